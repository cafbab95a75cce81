"""``dexbridge dataset render`` through its own argument parser (real corpus file, real renders)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from bridge.commands import dataset
from models.corpus import CorpusEntry, build_corpus
from models.errors import CorpusError, DatasetError
from models.params import BY_NAME
from models.voice import ClampReport, Voice


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="dexbridge")
    dataset.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["dataset", *argv])
    return int(args.handler(args))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    sine = Voice.init("SINE")
    voices = [sine.replace({BY_NAME["op1_coarse"].index: coarse}) for coarse in (1, 2, 3)]
    path = tmp_path / "corpus.sqlite"
    build_corpus(path, [CorpusEntry(v, ClampReport(), "test", slot) for slot, v in enumerate(voices)])
    return path


def test_render_prints_the_timing_line_and_resumes(corpus: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "data"
    assert _run("render", str(corpus), "--out", str(out), "--workers", "2", "--chunk", "1") == 0
    printed = capsys.readouterr().out
    assert "rendered 3 voices x 1 note in " in printed and "ms/voice, 2 workers)" in printed
    assert f"dataset: {out} (3 voices)" in printed
    assert np.load(out / "spectrograms.npy", mmap_mode="r").shape == (3, 1, 257, 345)
    assert _run("render", str(corpus), "--out", str(out), "--workers", "2") == 0
    assert "rendered 0 voices x 1 note in " in capsys.readouterr().out


def test_a_missing_corpus_is_named(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"missing\.sqlite not found: build one with 'dexbridge corpus build"):
        _run("render", str(tmp_path / "missing.sqlite"), "--out", str(tmp_path / "data"))
    assert not (tmp_path / "data").exists()


def test_a_directory_of_other_settings_needs_overwrite(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "data"
    assert _run("render", str(corpus), "--out", str(out), "--workers", "1") == 0
    with pytest.raises(DatasetError, match="new --out directory, or pass --overwrite"):
        _run("render", str(corpus), "--out", str(out), "--notes", "multi", "--workers", "1")
    assert _run("render", str(corpus), "--out", str(out), "--notes", "multi", "--workers", "2", "--overwrite") == 0
    assert np.load(out / "spectrograms.npy", mmap_mode="r").shape == (3, 6, 257, 345)


def test_workers_below_one_are_refused(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _run("render", str(corpus), "--out", str(tmp_path / "data"), "--workers", "0")
    assert "0: need at least 1" in capsys.readouterr().err
