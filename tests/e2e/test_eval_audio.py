"""The out-of-domain evaluation end to end: real sampled instruments rendered by fluidsynth from a
Debian General MIDI SoundFont (played straight, and performed: mod wheel up, synthetic vibrato), answered by
the shipped model and library, scored for pitch and closeness, group by group."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile

from bridge.commands.cli import main
from engine.pitch import cents, estimate_f0

ROOT = Path(__file__).resolve().parents[2]
INSTRUMENTS = "trumpet,violin,marimba,snare_drum"  # 2 trumpets, 2 violins, a marimba, a snare


@pytest.fixture(scope="module")
def instruments(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("instruments")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "render_instruments.py"), "--out", str(out),
                    "--only", INSTRUMENTS], check=True, capture_output=True)
    return out


@pytest.fixture(scope="module")
def performed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("performed")  # two GM choir notes with the mod wheel up, two vibrato tones
    subprocess.run([sys.executable, str(ROOT / "scripts" / "render_performed_notes.py"), "--out", str(out),
                    "--only", "gm,synthetic", "--limit", "2"], check=True, capture_output=True)
    return out


def test_performed_notes_are_tracked_to_their_centre(performed: Path) -> None:
    manifest = json.loads((performed / "manifest.json").read_text())["notes"]
    assert [item["source"] for item in manifest] == ["gm", "gm", "synthetic", "synthetic"]
    for item in manifest:
        audio, rate = soundfile.read(performed / item["file"])
        estimate = estimate_f0(audio, rate)
        assert estimate.pitched and abs(cents(estimate.f0_hz, item["f0_hz"])) < 25, (item["file"], estimate)
        if item["source"] == "synthetic":
            assert estimate.vibrato.rate_hz == pytest.approx(item["vibrato_hz"], abs=0.3), (item["file"], estimate)


def test_the_instrument_script_writes_notes_and_a_manifest(instruments: Path) -> None:
    manifest = json.loads((instruments / "manifest.json").read_text())["notes"]
    assert len(manifest) == 6 and all((instruments / item["file"]).is_file() for item in manifest)
    assert [item["f0_hz"] for item in manifest if item["category"] == "drum"] == [None]


def test_eval_audio_answers_real_instruments_in_tune(instruments: Path, performed: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scores.json"
    assert main(["eval-audio", str(instruments), str(performed), "--max-renders", "40", "--threads", "1", "-q",
                 "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    scores = {item["name"]: item for item in report["recordings"]}
    assert len(scores) == 10 and report["refused"] == []  # the snare is answered, not refused
    assert list(report["groups"]) == [instruments.name, performed.name]
    assert report["groups"][performed.name]["pipeline"]["recordings"] == 4
    assert scores["tone_vib50.wav"]["input_vibrato"]["depth_cents"] > 25 and scores["tone_vib50.wav"]["group"] == performed.name
    assert scores["snare_drum_38.wav"]["input_f0_hz"] is None and "unpitched" in scores["snare_drum_38.wav"]["input_pitch"]
    for item in scores.values():
        if item["expected_f0_hz"] is not None:  # the tracker hears the note the instrument played
            assert item["input_f0_hz"] is not None and abs(cents(item["input_f0_hz"], item["expected_f0_hz"])) < 50
    pipeline = report["summary"]["pipeline"]
    assert pipeline["pitched_pairs"] >= 4 and pipeline["within_50_cents"] >= 0.75 and pipeline["octave_errors"] == 0
    assert set(report["summary"]) == {"pipeline", "nearest", "nearest+tuning"}
    assert pipeline["octave_errors_where_trackers_agree"] == 0
    for row in report["summary"].values():  # every answer scored three ways
        assert row["spec_mae"] > 0 and row["log_mel_db"] > 0 and row["mfcc"] > 0
        assert 0 <= row["spec_mae_silent"] < row["spec_mae"]
    assert report["summary"]["nearest"]["closer_than_nearest"] == {"spec_mae": 0, "log_mel_db": 0, "mfcc": 0, "all": 0}
    assert report["search"] == "search 40 renders" and report["library"].startswith("library: ")
    table = capsys.readouterr().out
    assert "median |c|" in table and " silent" in table and "10 recordings scored, 0 refused" in table
    assert f"group {performed.name}" in table and "all recordings" in table


def test_eval_audio_on_held_out_renders_and_its_refusals(brass_path: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from bridge.midi.syxfile import read_syx_voices
    from models.corpus import CorpusEntry, build_corpus

    corpus = tmp_path / "brass.sqlite"
    build_corpus(corpus, [CorpusEntry(i.voice, i.report, "brass.syx", i.slot) for i in read_syx_voices(brass_path).voices])
    out = tmp_path / "scores.json"
    assert main(["eval-audio", "--corpus", str(corpus), "--split", "train", "--sample", "2", "--search-ms", "0",
                 "--no-library", "-q", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert len(report["recordings"]) == 2 and all(r["name"].startswith("train#") for r in report["recordings"])
    assert set(report["summary"]) == {"pipeline"}  # no library: no retrieval baseline
    capsys.readouterr()
    assert main(["eval-audio", str(tmp_path), "--corpus", str(corpus)]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["eval-audio", str(tmp_path / "none")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
