"""``dexbridge eval`` end to end on a tiny corpus: real renders, the real tiny checkpoint, the JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.commands.cli import main
from bridge.midi.sysex import encode_voice_dump
from bridge.midi.syxfile import read_syx_voices, write_syx
from models.corpus import CorpusEntry, SplitSpec, build_corpus, open_corpus
from models.dataset import render_dataset
from models.voice import ClampReport, Voice

METRICS = {"num_mae", "cat_acc", "spec_mae", "spec_sc", "mfcc_mae", "log_mel_db", "mfcc"}


@pytest.fixture(scope="module")
def brass_corpus(brass_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 32 brass voices as a corpus (hash split: most train, a few validation / test)."""
    entries = [CorpusEntry(item.voice, item.report, "brass.syx", item.slot)
               for item in read_syx_voices(brass_path).voices]
    path = tmp_path_factory.mktemp("corpus") / "brass.sqlite"
    build_corpus(path, entries)
    return path


def _run_json(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "scores.json"
    assert main(["eval", *args, "--workers", "1", "--quiet", "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_corpus_split_gives_the_documented_json(tiny_checkpoint: Path, brass_corpus: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    with open_corpus(brass_corpus) as corpus:
        n_test = corpus.count("test")
    assert n_test > 0
    scores = _run_json(tmp_path, str(tiny_checkpoint), "--corpus", str(brass_corpus), "--renders", "0,6", "--labels")
    assert set(scores) == {"n_voices", "network", "pipelines", "refused", "baselines", "by_label", "library"}
    assert scores["library"].startswith("library: training split only")
    assert scores["by_label"] and set(scores["by_label"]) <= {"harmonic", "percussive", "sfx"}
    for answers in scores["by_label"].values():
        assert set(answers) == {"network", "first voice", "pipeline 6 renders", "mean voice", "nearest"}
    assert set(scores["baselines"]) == {"mean", "nearest"} and set(scores["pipelines"]) == {"first voice", "pipeline 6 renders"}
    assert scores["n_voices"] == n_test and scores["refused"] == {"first voice": 0, "pipeline 6 renders": 0}
    for entry in (scores["network"], *scores["pipelines"].values(), *scores["baselines"].values()):
        assert set(entry) == METRICS
        assert 0.0 <= entry["num_mae"] <= 1.0 and 0.0 <= entry["cat_acc"] <= 1.0
        assert entry["spec_mae"] >= 0.0 and entry["spec_sc"] >= 0.0 and entry["mfcc_mae"] >= 0.0
    table = capsys.readouterr().out
    assert "nearest" in table and "pipeline 6 renders" in table and f"{n_test} voices of {brass_corpus} (test split)" in table
    assert "spec_mae by label" in table


def test_training_voices_are_their_own_nearest_neighbours(tiny_checkpoint: Path, brass_corpus: Path,
                                                          tmp_path: Path) -> None:
    """A .syx of training voices: retrieval must find each one exactly (a wrong search cannot pass)."""
    with open_corpus(brass_corpus) as corpus:
        train = corpus.voices("train")[:5]
    syx = tmp_path / "train5.syx"
    write_syx(syx, [encode_voice_dump(voice) for voice in train])
    scores = _run_json(tmp_path, str(tiny_checkpoint), "--corpus", str(syx), "--train-corpus", str(brass_corpus),
                       "--renders", "0", "--no-library")
    nearest = scores["baselines"]["nearest"]
    assert scores["n_voices"] == 5
    assert nearest == {"num_mae": 0.0, "cat_acc": 1.0, "spec_mae": 0.0, "spec_sc": 0.0, "mfcc_mae": 0.0, "log_mel_db": 0.0,
                       "mfcc": 0.0}
    assert scores["baselines"]["mean"]["num_mae"] > 0.0


def test_sample_takes_a_seeded_subset(tiny_checkpoint: Path, brass_corpus: Path, tmp_path: Path) -> None:
    args = (str(tiny_checkpoint), "--corpus", str(brass_corpus), "--split", "train", "--sample", "3", "--renders", "0",
            "--no-library")
    first, again = _run_json(tmp_path, *args), _run_json(tmp_path, *args)
    assert first["n_voices"] == 3 and first == again


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--corpus", "{tmp}/missing.sqlite"], "missing.sqlite not found"),
        (["--corpus", "{syx}"], "is a .syx file: give --train-corpus"),
        (["--corpus", "{empty}"], "no voice in"),
    ],
)
def test_bad_sources_exit_2_with_the_reason(tiny_checkpoint: Path, brass_path: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str], extra: list[str], message: str) -> None:
    empty = tmp_path / "all_train.sqlite"  # its test split is empty
    build_corpus(empty, [CorpusEntry(Voice.init(), ClampReport(), "init.syx", 0)], split=SplitSpec(1.0, 0.0, 0.0))
    args = [a.format(tmp=tmp_path, syx=brass_path, empty=empty) for a in extra]
    assert main(["eval", str(tiny_checkpoint), *args, "--quiet"]) == 2
    assert message in capsys.readouterr().err


def test_a_rendered_dataset_gives_the_same_baselines_and_is_cached(tiny_checkpoint: Path, brass_corpus: Path,
                                                                   tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    render_dataset(brass_corpus, dataset, workers=1)
    # budget 0 only: a timed search's answer depends on the machine's load, and this compares whole reports
    rendered_here = _run_json(tmp_path, str(tiny_checkpoint), "--corpus", str(brass_corpus), "--renders", "0")
    from_dataset = _run_json(tmp_path, str(tiny_checkpoint), "--corpus", str(brass_corpus), "--renders", "0",
                             "--train-dataset", str(dataset))
    assert from_dataset["baselines"] == rendered_here["baselines"]
    assert (dataset / "eval_pooled2_train.npy").is_file()
    assert _run_json(tmp_path, str(tiny_checkpoint), "--corpus", str(brass_corpus), "--renders", "0",
                     "--train-dataset", str(dataset)) == from_dataset


def test_eval_takes_scores_one_take_six_takes_and_retrieval(brass_corpus: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "takes.json"
    assert main(["eval-takes", "--corpus", str(brass_corpus), "--split", "train", "--sample", "2", "--search-ms", "0",
                 "--threads", "1", "-q", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["notes"] == [[40, 85], [50, 85], [60, 42], [60, 85], [60, 127], [70, 85]]
    assert set(report["summary"]) == {"one take", "six takes", "nearest"}
    for row in report["summary"].values():
        assert len(row["per_note"]) == 6 and row["spec_mae"] == pytest.approx(sum(row["per_note"]) / 6)
        assert 0.0 <= row["key_vel_mae"] <= 1.0 and 0.0 <= row["curve_acc"] <= 1.0
    assert report["summary"]["six takes"]["worse_than_one_take"] == 0
    assert "six takes against one" in capsys.readouterr().out
