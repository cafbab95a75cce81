"""``dexbridge demo`` end to end with the tiny checkpoint: a real daemon over real UDP, every file checked."""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile
import torch
from PIL import Image

from bridge.commands.cli import main
from bridge.commands.render_out import loudness_lufs, true_peak_db
from bridge.harness.demo import FILES, DemoError, check_in_tune, describe_voice, karplus_strong, next_steps, run_demo
from bridge.midi.sysex import decode_sysex
from bridge.midi.syxfile import read_syx_voices
from models.checkpoint import load_checkpoint, save_checkpoint
from models.errors import CheckpointError
from models.render import SAMPLE_RATE


@pytest.fixture(scope="module")
def audible_checkpoint(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny checkpoint with the encoder's mean moved off the origin.

    The tiny encoder's answer barely depends on its input and sits near latent 0, which its
    random flows decode to a silent voice (see the test below); a seeded normal draw as the mean's
    bias makes its answer a typical latent point, which decodes to a voice that sounds.
    """
    checkpoint = load_checkpoint(tiny_checkpoint)
    state = dict(checkpoint.serving_state)
    bias = state["encoder.to_gaussian.bias"].clone()
    half = bias.numel() // 2  # mean, then log-variance
    bias[:half] = torch.from_numpy(np.random.default_rng(3).standard_normal(half).astype(np.float32))
    state["encoder.to_gaussian.bias"] = bias
    out = tmp_path_factory.mktemp("audible") / "audible.pt"
    return save_checkpoint(out, dataclasses.replace(checkpoint, serving_state=state))


async def test_demo_writes_every_file_and_they_are_valid(audible_checkpoint: Path, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    lines: list[str] = []
    with caplog.at_level(logging.INFO, logger="bridge.daemon.session"):
        report = await run_demo(tmp_path / "demo", audible_checkpoint, backend="torch", say=lines.append)
    # one answer, one figure: the cents the demo prints are the ones the daemon logged
    logged = re.search(r"inferred: .*, voice [\d.]+ Hz \(([+-][\d.]+) cents\)", caplog.text)
    printed = next(line for line in lines if line.startswith("played at middle C"))
    assert logged is not None and f"{float(logged[1]):+.1f} cents from the pluck" in printed, (logged, printed)
    out = tmp_path / "demo"
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert report.files == {name: out / name for name in FILES}

    voices = read_syx_voices(out / "voice.syx", strict=True).voices
    assert [v.voice for v in voices] == [report.inferred]
    assert any(report.inferred.name.strip() in line for line in lines)  # the voice was printed

    for name in ("original.wav", "inferred.wav"):
        audio, rate = soundfile.read(out / name)
        assert rate == SAMPLE_RATE and len(audio) == 4 * SAMPLE_RATE
        assert np.isfinite(audio).all() and np.sqrt(np.mean(audio ** 2)) > 1e-3, f"{name} is silent"
    # the render is as loud as the pluck, unless that would clip it (then it says how far below)
    pluck, inferred = (soundfile.read(out / name)[0] for name in ("original.wav", "inferred.wav"))
    assert soundfile.info(str(out / "inferred.wav")).subtype == "PCM_24" and true_peak_db(inferred) <= -0.99
    wrote = next(line for line in lines if line.startswith("wrote voice.syx, original.wav, inferred.wav"))
    said = re.search(r"; inferred\.wav is (?:as loud as the input|([\d.]+) dB below the input's loudness) \((-[\d.]+) LUFS",
                     wrote)
    assert said is not None, wrote
    assert float(said[2]) == pytest.approx(loudness_lufs(pluck, SAMPLE_RATE), abs=0.05)
    assert loudness_lufs(inferred, SAMPLE_RATE) == pytest.approx(float(said[2]) - float(said[1] or 0.0), abs=0.1)

    for name in ("spectrograms.png", "morph.png"):
        with Image.open(out / name) as image:
            image.verify()
            assert image.format == "PNG" and image.size[0] > 500

    midi = mido.MidiFile(out / "morph.mid")
    sysex = [m for m in midi if m.type == "sysex"]
    assert len(sysex) == len(report.morph_events) > 0
    changes = [decode_sysex(bytes([0xF0, *m.data, 0xF7])) for m in sysex]
    assert [(c.index, c.value) for c in changes] == [(e.index, e.value) for e in report.morph_events]
    assert midi.length == pytest.approx(report.morph_events[-1].time_s, abs=0.01)


def test_karplus_strong_rings_at_its_pitch_then_is_damped() -> None:
    audio = karplus_strong(220.0, seconds=2.0, held_seconds=1.5)
    assert audio.dtype == np.float32 and len(audio) == 2 * SAMPLE_RATE
    assert np.max(np.abs(audio)) == pytest.approx(0.5)
    ringing = audio[SAMPLE_RATE // 2:SAMPLE_RATE].astype(np.float64)
    correlation = np.correlate(ringing, ringing, mode="full")[len(ringing) - 1:]
    shortest, longest = SAMPLE_RATE // 1000, SAMPLE_RATE // 50  # periods of 1 kHz .. 50 Hz
    period = shortest + np.argmax(correlation[shortest:longest])
    assert SAMPLE_RATE / period == pytest.approx(220.0, rel=0.01)
    assert np.max(np.abs(audio[-SAMPLE_RATE // 10:])) < 1e-3  # damped after the note-off


@pytest.mark.parametrize(("f0", "held"), [(5.0, 1.0), (20_000.0, 1.0), (220.0, 5.0), (220.0, 0.0)])
def test_karplus_strong_refuses_what_it_cannot_play(f0: float, held: float) -> None:
    with pytest.raises(ValueError, match="range|need"):
        karplus_strong(f0, seconds=2.0, held_seconds=held)


async def test_demo_fails_loudly_when_the_inferred_voice_is_silent(tiny_checkpoint: Path, tmp_path: Path) -> None:
    # the tiny checkpoint answers near latent 0 whatever it hears, which decodes to a silent voice
    with pytest.raises(DemoError, match=r"inferred voice '.*' renders silent at note \d+.*--checkpoint"):
        await run_demo(tmp_path / "demo", tiny_checkpoint, backend="torch", library=False, say=lambda line: None)
    assert not (tmp_path / "demo" / "inferred.wav").exists()


def test_the_demo_refuses_an_answer_out_of_tune() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    sine = (0.5 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)
    played, off = check_in_tune(sine, 220.0, "SINE")
    assert played == pytest.approx(220.0, rel=0.005) and abs(off) < 5
    with pytest.raises(DemoError, match=r"'SINE' played at note 60 sounds at 220\.0 Hz \(\+100 cents\), not at the "
                                        r"pluck's 207\.7 Hz \(within 50 cents\): it is out of tune"):
        check_in_tune(sine, 220.0 * 2 ** (-1 / 12), "SINE")
    with pytest.raises(DemoError, match="sounds at no clear pitch"):
        check_in_tune(np.random.default_rng(0).normal(0, 0.3, SAMPLE_RATE).astype(np.float32), 220.0, "NOISE")


async def test_demo_fails_loudly_without_a_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="missing.pt"):
        await run_demo(tmp_path / "demo", tmp_path / "missing.pt", say=lambda line: None)


def test_demo_command_says_what_it_does(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["demo", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert "--out" in text and "--checkpoint" in text and "Karplus-Strong" in text and "what to try next" in text


def test_the_voice_is_printed_as_the_dx7_shows_it(brass_voices: list) -> None:
    text = describe_voice(brass_voices[6])  # PERCBRASS: algorithm 28 on the DX7 (27 stored)
    head, columns, *operators = text.splitlines()
    assert head.startswith("voice 'PERCBRASS': algorithm 28, feedback ")
    assert "transpose C3 (+0 semitones; Yamaha octaves: C3 = middle C)" in head
    assert columns.split()[:3] == ["op", "frequency", "detune"] and len(operators) == 6
    assert all(re.match(r"  \d   (ratio \d+\.\d\d|fixed [\d.]+ Hz) +[+-]\d ", line) for line in operators), operators


def test_the_demo_says_what_to_do_next_with_commands_that_work_as_printed(tmp_path: Path) -> None:
    text = next_steps(tmp_path / "demo", ".venv/bin/dexbridge")
    assert text.splitlines()[0] == "what next:"
    assert f".venv/bin/dexbridge serve --sink embedded --files-dir {tmp_path / 'demo'}" in text
    assert ".venv/bin/dexbridge send /dexbridge/infer/file original.wav" in text  # the demo wrote it into that folder
    assert ".venv/bin/dexbridge send /dexbridge/note 60" in text


def test_demo_command_exits_2_naming_a_missing_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--out", str(tmp_path / "demo"), "--checkpoint", str(tmp_path / "missing.pt")]) == 2
    assert "missing.pt" in capsys.readouterr().err


def test_readme_documents_every_demo_file_and_shows_the_pictures() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    demo = readme.split("\n## Demo\n", 1)[1].split("\n## ", 1)[0]
    assert all(f"`{name}`" in demo for name in FILES), [name for name in FILES if f"`{name}`" not in demo]
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", demo)
    assert len(pictures) == 2
    for picture in pictures:
        with Image.open(Path(__file__).resolve().parents[2] / picture) as image:
            image.verify()
