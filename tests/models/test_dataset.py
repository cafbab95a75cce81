"""Dataset rendering: real dexed-py renders in worker processes, real memmaps, resume, stats."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from models.config import FrontendConfig
from models.corpus import (
    SPLITS,
    CorpusEntry,
    SplitSpec,
    build_corpus,
    open_corpus,
    split_of,
)
from models.dataset import (
    DONE,
    SPECTROGRAMS,
    DatasetInfo,
    SpectrogramDataset,
    render_dataset,
)
from models.errors import DatasetError
from models.frontend import Frontend, FrontendStats
from models.params import BY_NAME, NAME_START
from models.render import MULTI_NOTES, SINGLE_NOTE, Renderer
from models.representations import get_representation
from models.voice import ClampReport, Voice

SPLIT = SplitSpec(train=0.4, validation=0.3, test=0.3)
FLOAT16_DB = 0.04  # float16 step is 1/16 dB at 64..128 dB: rounding costs at most 1/32 dB


def _voice(index: int, **changes: int) -> Voice:
    return Voice.init(f"TEST {index}").replace({BY_NAME[name].index: value for name, value in changes.items()})


def _loud_test_voice() -> Voice:
    """Six operators at full level, all carriers (algorithm 32), landing in the test split."""
    levels = {f"op{op}_output_level": 99 for op in range(1, 7)}
    for speed in range(100):
        voice = _voice(99, algorithm=31, lfo_speed=speed, **levels)
        if split_of(voice.vced[:NAME_START], SPLIT) == "test":
            return voice
    raise AssertionError("no LFO speed puts the loud voice in the test split")


@pytest.fixture(scope="module")
def corpus_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    voices = [_voice(i, op1_output_level=60 + 4 * i, algorithm=i, op2_output_level=10 * i) for i in range(9)]
    voices.append(_loud_test_voice())
    path = tmp_path_factory.mktemp("corpus") / "corpus.sqlite"
    build_corpus(path, [CorpusEntry(v, ClampReport(), "test", slot) for slot, v in enumerate(voices)], split=SPLIT)
    return path


@pytest.fixture(scope="module")
def single(corpus_path: Path, tmp_path_factory: pytest.TempPathFactory) -> DatasetInfo:
    return render_dataset(corpus_path, tmp_path_factory.mktemp("single"), notes=SINGLE_NOTE, workers=2, chunk=3)


@pytest.fixture(scope="module")
def multi(single: DatasetInfo, corpus_path: Path, tmp_path_factory: pytest.TempPathFactory) -> DatasetInfo:
    """The multi-note set, rendered over a copy of the single-note dataset with overwrite."""
    out = tmp_path_factory.mktemp("multi") / "dataset"
    shutil.copytree(single.out_dir, out)
    return render_dataset(corpus_path, out, notes=MULTI_NOTES, workers=2, chunk=2, overwrite=True)


def _corpus_rows(corpus_path: Path) -> list[tuple[int, str, Voice]]:
    with open_corpus(corpus_path) as corpus:
        return [(voice_id, split, voice) for split in SPLITS
                for voice_id, voice in zip(corpus.ids(split), corpus.voices(split), strict=True)]


def _manifest(info: DatasetInfo) -> dict:
    return json.loads((info.out_dir / "manifest.json").read_text())


def test_corpus_covers_every_split(corpus_path: Path) -> None:
    assert {split for _, split, _ in _corpus_rows(corpus_path)} == set(SPLITS)


@pytest.mark.parametrize(("fixture", "notes"), [("single", SINGLE_NOTE), ("multi", MULTI_NOTES)])
def test_rows_equal_the_front_end_on_a_direct_render(
    fixture: str, notes: tuple, corpus_path: Path, request: pytest.FixtureRequest
) -> None:
    info: DatasetInfo = request.getfixturevalue(fixture)
    stored = np.load(info.out_dir / SPECTROGRAMS, mmap_mode="r")
    assert stored.shape == (10, len(notes), 257, 345)
    assert stored.dtype == np.float16
    assert info.rendered == 10 and info.already_done == 0
    assert np.load(info.out_dir / DONE).all()
    renderer, frontend = Renderer(), Frontend(FrontendConfig(), FrontendStats(-120.0, 0.0))
    for row, (_, _, voice) in enumerate(_corpus_rows(corpus_path)):
        audio = torch.from_numpy(renderer.render_notes(voice, notes))[None]
        expected = frontend.spectrogram_db(audio)[0].numpy()
        np.testing.assert_allclose(stored[row].astype(np.float32), expected, atol=FLOAT16_DB, rtol=0)


def test_manifest_and_timing_line(single: DatasetInfo, corpus_path: Path) -> None:
    manifest = _manifest(single)
    assert manifest["notes"] == [[60, 85]]
    assert manifest["shape"] == [10, 1, 257, 345] and manifest["dtype"] == "float16"
    assert manifest["frontend"]["sample_rate"] == 22050 and manifest["note_seconds"] == 3.0
    assert manifest["complete"] is True and manifest["runs"][0]["rendered"] == 10
    assert manifest["corpus"] == str(corpus_path.resolve())
    line = single.timing_line()
    assert line.startswith("rendered 10 voices x 1 note in ") and line.endswith("ms/voice, 2 workers)")


def test_stats_come_from_the_train_split_only(single: DatasetInfo, corpus_path: Path) -> None:
    stored = np.load(single.out_dir / SPECTROGRAMS).astype(np.float32)
    splits = np.array([split for _, split, _ in _corpus_rows(corpus_path)])
    train = stored[splits == "train"]
    assert single.stats == FrontendStats(float(train.min()), float(train.max()))
    assert _manifest(single)["stats"] == {"min_db": float(train.min()), "max_db": float(train.max())}
    assert stored.max() > single.stats.max_db  # the loudest voice is a test voice: it must not count


def test_a_cut_run_resumes_with_only_the_missing_rows(single: DatasetInfo, corpus_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "cut"
    shutil.copytree(single.out_dir, out)
    original = np.load(out / SPECTROGRAMS)
    spectrograms = np.load(out / SPECTROGRAMS, mmap_mode="r+")
    done = np.load(out / DONE, mmap_mode="r+")
    missing = [2, 3, 7]
    done[missing] = False  # what a cut leaves: these rows never reported
    spectrograms[missing] = 0.0
    spectrograms[0] = 5.0  # a done row: a resume that rewrote it would lose this mark
    spectrograms.flush(), done.flush()
    with pytest.raises(DatasetError, match="not fully rendered"):
        SpectrogramDataset(out)

    info = render_dataset(corpus_path, out, notes=SINGLE_NOTE, workers=2, chunk=3)

    assert (info.rendered, info.already_done) == (3, 7)
    assert info.timing_line().endswith("; 7 already done")
    resumed = np.load(out / SPECTROGRAMS)
    np.testing.assert_array_equal(resumed[missing], original[missing])
    assert (resumed[0] == 5.0).all()
    assert np.load(out / DONE).all()
    assert [run["rendered"] for run in json.loads((out / "manifest.json").read_text())["runs"]] == [10, 3]


def test_other_settings_in_the_directory_are_refused(single: DatasetInfo, corpus_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"notes \[\[60, 85\]\] .*new --out directory, or pass --overwrite"):
        render_dataset(corpus_path, single.out_dir, notes=MULTI_NOTES, workers=2)
    with pytest.raises(DatasetError, match=r"frontend .*'n_mels': 257.*'n_mels': 128"):
        render_dataset(corpus_path, single.out_dir, frontend=FrontendConfig(n_mels=128), workers=2)


def test_a_finished_dataset_renders_nothing(single: DatasetInfo, corpus_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    shutil.copytree(single.out_dir, out)
    info = render_dataset(corpus_path, out, workers=2)
    assert (info.rendered, info.already_done) == (0, 10)
    assert info.stats == single.stats


def test_dataset_items_are_normalised_with_train_stats(single: DatasetInfo, corpus_path: Path) -> None:
    rows = _corpus_rows(corpus_path)
    dataset = SpectrogramDataset(single.out_dir, "train", "numcat++")
    assert len(dataset) == sum(split == "train" for _, split, _ in rows)
    items = [dataset[i] for i in range(len(dataset))]
    spectrograms = torch.stack([spectrogram for spectrogram, _, _ in items])
    assert spectrograms.shape == (len(dataset), 1, 257, 345) and spectrograms.dtype == torch.float32
    assert spectrograms.min() == -1.0 and spectrograms.max() == pytest.approx(1.0, abs=1e-6)
    rep = get_representation("numcat++")
    for _, target, row in items:
        assert rows[row][1] == "train"
        np.testing.assert_array_equal(target.numpy(), rep.encode(rows[row][2]))
    test_set = SpectrogramDataset(single.out_dir, "test", "num")
    assert test_set.targets.shape == (len(test_set), 144)
    assert max(float(test_set[i][0].max()) for i in range(len(test_set))) > 1.0  # the loud test voice


def test_unknown_split_is_refused(single: DatasetInfo) -> None:
    with pytest.raises(DatasetError, match="split 'valid': choose one of train, validation, test"):
        SpectrogramDataset(single.out_dir, "valid")


def test_dataloader_with_worker_processes(single: DatasetInfo) -> None:
    dataset = SpectrogramDataset(single.out_dir, "validation")
    loader = DataLoader(dataset, batch_size=2, num_workers=2)
    seen = {}
    for spectrograms, targets, rows in loader:
        for spectrogram, target, row in zip(spectrograms, targets, rows.tolist(), strict=True):
            seen[row] = (spectrogram, target)
    assert sorted(seen) == sorted(dataset.rows.tolist())
    for i in range(len(dataset)):
        spectrogram, target, row = dataset[i]
        torch.testing.assert_close(seen[row][0], spectrogram)
        torch.testing.assert_close(seen[row][1], target)
