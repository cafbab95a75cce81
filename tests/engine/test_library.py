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


def test_embeddings_quantise_half_decibels() -> None:
    db = np.full((257, 345), -60.0, dtype=np.float32)
    assert embed(db).shape == (EMBED_SIZE,) and not embed(db).any()  # -60 dB is the int8 zero
    assert embed(db + 1.0).tolist() == [2] * EMBED_SIZE


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file; build one with 'dexbridge library build SOURCES --out"),
        (b"not a zip", "not a readable library file"),
        ("other-format", "format 'other-format', expected 'dexbridge-library-2'; rebuild it"),
        ("no-format", "format None, expected 'dexbridge-library-2'"),
    ],
)
def test_a_missing_corrupt_or_foreign_library_is_refused_in_words(tmp_path: Path, content: object, message: str) -> None:
    path = tmp_path / "lib.npz"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content == "other-format":
        np.savez(path, format=np.array("other-format"))
    elif content == "no-format":
        np.savez(path, packed=np.zeros((1, 128), np.uint8))
    with pytest.raises(LibraryError, match=re.escape(message)):
        VoiceLibrary.load(path)
    with pytest.raises(LibraryError, match=re.escape(message)):
        load_libraries([path], use_default=False)


def test_mismatched_parts_are_refused(brass_voices: list[Voice]) -> None:
    with pytest.raises(LibraryError, match=r"2 voices, 1 sources and embeddings of shape \(2, 208\) do not match"):
        VoiceLibrary(brass_voices[:2], ["a"], np.zeros((2, EMBED_SIZE), np.int8))


def test_the_shipped_library_is_the_training_split() -> None:
    library = load_libraries(None)
    assert library is not None and len(library) == 21_589
    assert all(source.startswith("corpus.sqlite#") for source in library.sources[:100])
    assert np.isfinite(library.f0_hz).mean() > 0.8  # most voices have a pitch at middle C


def test_no_validation_or_test_voice_ships() -> None:
    from models.corpus import SplitSpec, split_of

    library = load_libraries(None)
    assert library is not None
    splits = {split_of(bytes(voice.values[:145]), SplitSpec()) for voice in library.voices}
    assert splits == {"train"}
