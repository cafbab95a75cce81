"""The voice library: its file format, its refusals, and search by sound."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest

from engine.library import EMBED_SIZE, LibraryError, VoiceLibrary, embed, load_libraries, merge_libraries
from models.voice import Voice


def _library(voices: list[Voice]) -> VoiceLibrary:
    rng = np.random.default_rng(0)
    embeddings = rng.integers(-100, 100, (len(voices), EMBED_SIZE)).astype(np.int8)
    return VoiceLibrary(voices, [f"bank.syx:{i + 1}" for i in range(len(voices))], embeddings,
                        np.linspace(100.0, 400.0, len(voices)).astype(np.float32))


def _write(path: Path, fill) -> None:  # noqa: ANN001 - the atomic writer's shape, without the bridge
    buffer = io.BytesIO()
    fill(buffer)
    path.write_bytes(buffer.getvalue())


def test_a_saved_library_loads_back_the_same(brass_voices: list[Voice], tmp_path: Path) -> None:
    library = _library(brass_voices[:5])
    library.save(tmp_path / "lib.npz", _write)
    loaded = VoiceLibrary.load(tmp_path / "lib.npz")
    assert [v.values[:155] for v in loaded.voices] == [v.values[:155] for v in library.voices]
    assert loaded.sources == library.sources
    np.testing.assert_array_equal(loaded.embeddings, library.embeddings)
    np.testing.assert_allclose(loaded.f0_hz, library.f0_hz)


def test_search_finds_a_voice_by_its_own_embedding_first(brass_voices: list[Voice]) -> None:
    library = _library(brass_voices[:8])
    matches = library.search(library.embeddings[5], 3)
    assert matches[0].index == 5 and matches[0].distance == 0.0 and matches[0].source == "bank.syx:6"
    assert matches[0].f0_hz == pytest.approx(float(library.f0_hz[5]))
    assert [m.distance for m in matches] == sorted(m.distance for m in matches)


def test_merged_libraries_keep_one_copy_of_a_voice(brass_voices: list[Voice]) -> None:
    merged = merge_libraries([_library(brass_voices[:4]), _library(brass_voices[2:6])])
    assert len(merged) == 6 and merged.sources[2] == "bank.syx:3"


def test_embedding_distances_grow_with_the_spectrogram_difference() -> None:
    rng = np.random.default_rng(0)
    db = rng.normal(-40.0, 10.0, (257, 345)).astype(np.float32)
    assert embed(db).shape == (EMBED_SIZE,) and embed(db).dtype == np.int8
    distances = []
    for change in (2.0, 6.0, 18.0):
        brighter = db.copy()
        brighter[128:] += change  # the upper half of the bands louder
        distances.append(float(np.linalg.norm(embed(brighter).astype(float) - embed(db))))
    assert 0 < distances[0] < distances[1] < distances[2]


def test_cells_more_than_80_db_below_the_peak_do_not_count() -> None:
    db = np.full((257, 345), -30.0, dtype=np.float32)
    quiet, quieter = db.copy(), db.copy()
    quiet[:, 200:] = -120.0  # both far below the floor at -110 dB
    quieter[:, 200:] = -200.0
    np.testing.assert_array_equal(embed(quiet), embed(quieter))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file; build one with 'dexbridge library build SOURCES --out"),
        (b"not a zip", "not a readable library file"),
        ("other-format", "format 'other-format', expected 'dexbridge-library-3'; rebuild it"),
        ("no-format", "format None, expected 'dexbridge-library-3'"),
        ("other-index", "embedded with other index axes (0123456789ab); rebuild it"),
    ],
)
def test_a_missing_corrupt_or_foreign_library_is_refused_in_words(tmp_path: Path, content: object, message: str) -> None:
    path = tmp_path / "lib.npz"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content == "other-format":
        np.savez(path, format=np.array("other-format"))
    elif content == "other-index":
        np.savez(path, format=np.array("dexbridge-library-3"), index=np.array("0123456789ab"))
    elif content == "no-format":
        np.savez(path, packed=np.zeros((1, 128), np.uint8))
    with pytest.raises(LibraryError, match=re.escape(message)):
        VoiceLibrary.load(path)
    with pytest.raises(LibraryError, match=re.escape(message)):
        load_libraries([path], use_default=False)


def test_mismatched_parts_are_refused(brass_voices: list[Voice]) -> None:
    with pytest.raises(LibraryError, match=r"2 voices, 1 sources and embeddings of shape \(2, 64\) do not match"):
        VoiceLibrary(brass_voices[:2], ["a"], np.zeros((2, EMBED_SIZE), np.int8))


def test_the_shipped_library_is_every_voice_of_the_corpus() -> None:
    from models.corpus import SplitSpec, split_of

    library = load_libraries(None)
    assert library is not None and len(library) == 29_834
    assert all(source.startswith("corpus.sqlite#") for source in library.sources[:100])
    assert np.isfinite(library.f0_hz).mean() > 0.8  # most voices have a pitch at middle C
    splits = [split_of(bytes(voice.values[:145]), SplitSpec()) for voice in library.voices]
    assert {split: splits.count(split) for split in set(splits)} == {"train": 21_589, "validation": 2_390,
                                                                    "test": 5_855}
