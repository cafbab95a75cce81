"""``dexbridge library build`` / ``infer`` / ``export-checkpoint --axes-corpus`` end to end on a tiny
checkpoint and dexed-py renders written as real audio files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr

from bridge.commands.cli import main
from bridge.commands.render_out import loudness_lufs, true_peak_db
from bridge.midi.syxfile import read_syx_voices, write_voice_syx
from engine.lfo_vibrato import vibrato_settings, with_vibrato
from engine.pitch import Vibrato
from models.checkpoint import load_checkpoint
from models.corpus import CorpusEntry, build_corpus
from models.render import Renderer
from models.voice import ClampReport, Voice


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """G4 as a 44.1 kHz stereo WAV, C4 as a 22.05 kHz mono FLAC."""
    folder = tmp_path_factory.mktemp("audio")
    renderer = Renderer()
    g4 = soxr.resample(renderer.render(Voice.init(), 67, 85).astype(np.float64), 22050, 44100)
    soundfile.write(folder / "horn g4.wav", np.stack([g4, g4], axis=1), 44100)
    soundfile.write(folder / "c4.flac", renderer.render(Voice.init(), 60, 85), 22050)
    return {"g4": folder / "horn g4.wav", "c4": folder / "c4.flac"}


@pytest.fixture(scope="module")
def library(brass_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A voice library built by the command from the brass bank and a .syx holding the INIT VOICE."""
    folder = tmp_path_factory.mktemp("library")
    write_voice_syx(folder / "init.syx", Voice.init())
    assert main(["library", "build", str(folder / "init.syx"), str(brass_path), "--out", str(folder / "lib.npz"),
                 "--workers", "1", "-q"]) == 0
    return folder / "lib.npz"


def test_library_build_and_search(library: Path, recordings: dict[str, Path], tiny_checkpoint: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["library", "search", str(recordings["c4"]), "--no-default", "--library", str(library), "-k", "3",
                 "--checkpoint", str(tiny_checkpoint)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[1].split()[:3] == ["1", "INIT", "VOICE"] and "init.syx:1" in lines[1]


def test_one_voice_per_input_in_out_dir_with_json(tiny_checkpoint: Path, recordings: dict[str, Path], tmp_path: Path,
                                                  library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["infer", str(recordings["g4"]), str(recordings["c4"]), "--out-dir", str(tmp_path / "voices"), "--json",
                 "--no-search", "--no-library", "--library", str(library), "--backend", "torch",
                 "--checkpoint", str(tiny_checkpoint)])
    assert code == 0
    reports = json.loads(capsys.readouterr().out)
    assert [Path(r["output"]).name for r in reports] == ["horn g4.syx", "c4.syx"]
    assert [r["parameters"]["transpose"] for r in reports] == [31, 24]  # VCED values, as stored
    assert [r["display"]["transpose"] for r in reports] == ["G3", "C3"]  # as the DX7 shows them
    assert reports[0]["display"]["algorithm"] == reports[0]["parameters"]["algorithm"] + 1
    assert reports[0]["display"]["op1_detune"] == reports[0]["parameters"]["op1_detune"] - 7
    assert set(reports[0]["diagnostics"]["distance"]) == {"first_voice", "answer"}  # labelled, not a pair
    assert reports[0]["diagnostics"]["distance"]["answer"] <= reports[0]["diagnostics"]["distance"]["first_voice"]
    assert reports[0]["diagnostics"]["score"] == "spec+mel"
    assert set(reports[0]["conventions"]) == {"parameters", "display", "distance"}
    diagnostics = reports[0]["diagnostics"]
    assert diagnostics["f0_hz"] == pytest.approx(392.0, rel=0.01) and diagnostics["voice_f0_hz"] == pytest.approx(392.0, rel=0.01)
    assert abs(diagnostics["cents"]) < 5 and diagnostics["source"] == "library: INIT VOICE (init.syx:1)"
    for report, name in zip(reports, ["HORN G4", "C4"], strict=True):
        voices = read_syx_voices(Path(report["output"]), strict=True).voices
        assert len(voices) == 1 and voices[0].voice.name.strip() == name
        assert voices[0].voice["algorithm"] == report["parameters"]["algorithm"]


def test_a_recording_with_vibrato_gets_a_voice_whose_lfo_plays_it(tiny_checkpoint: Path, library: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    sung = tmp_path / "sung.wav"
    soundfile.write(sung, Renderer().render(with_vibrato(Voice.init(), Vibrato(60.0, 5.5)), 67, 85), 22050)
    common = ["--no-search", "--no-library", "--library", str(library), "--backend", "torch", "--checkpoint",
              str(tiny_checkpoint)]
    assert main(["infer", str(sung), "--out", str(tmp_path / "sung.syx"), "--json", *common]) == 0
    report = json.loads(capsys.readouterr().out)
    heard = report["diagnostics"]["vibrato"]
    assert heard["rate_hz"] == pytest.approx(5.5, abs=0.25) and 45.0 <= heard["depth_cents"] <= 66.0, heard
    settings = vibrato_settings(Vibrato(**heard))
    assert {name: report["parameters"][name] for name in settings} == settings
    assert main(["infer", str(sung), "--out", str(tmp_path / "again.syx"), *common]) == 0
    assert re.search(r"vibrato \+-\d+ cents at 5\.\d Hz \(played by the voice's LFO\)", capsys.readouterr().out)


def test_single_output_with_render_plot_and_table(tiny_checkpoint: Path, recordings: dict[str, Path], tmp_path: Path,
                                                  library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, wav, png = tmp_path / "g4.syx", tmp_path / "g4_dx7.wav", tmp_path / "g4.png"
    code = main(["infer", str(recordings["g4"]), "--out", str(out), "--render", str(wav), "--plot", str(png),
                 "--max-renders", "30", "--no-library", "--library", str(library), "--backend", "torch",
                 "--checkpoint", str(tiny_checkpoint)])
    assert code == 0
    captured = capsys.readouterr()
    text = captured.out
    assert "transpose G3 (+7 semitones; Yamaha octaves: C3 = middle C); input f0 392" in text
    assert "from library: INIT VOICE (init.syx:1)" in text and "closer is better, 0 = identical" in text
    assert "renders  distance" in captured.err  # the better voices, listed as they are found
    assert captured.err.startswith("loading the voice library and the model")  # said before the wait
    assert "OUTPUT LEVEL" in text and "PITCH EG LEVEL 2" in text and "output_level" not in text  # the DX7's names
    table = dict(line.split(None, 1) for line in text.splitlines() if line.startswith(("ALGORITHM ", "TRANSPOSE ", "FREQUENCY ")))
    assert table["ALGORITHM"].strip() == str(voice_algorithm(out) + 1) and table["TRANSPOSE"].strip() == "G3"
    assert table["FREQUENCY"].split() == ["x1.00"] * 6  # INIT VOICE: every operator at ratio 1
    assert "(as the DX7 shows them: algorithm 1-32, detune -7..+7" in text
    voice = read_syx_voices(out, strict=True).voices[0].voice
    assert voice["transpose"] == 31
    audio, rate = soundfile.read(wav)
    assert rate == 44100 and audio.shape == (176400,) and soundfile.info(wav).subtype == "PCM_24"  # the input's rate
    played = soxr.resample(Renderer().render(voice, 60, 85).astype(np.float64), 22050, 44100)
    assert np.corrcoef(audio, played)[0, 1] > 0.9999  # the voice at middle C, only its level changed
    # the recording peaks at full scale: as loud as it, the render would clip, so it is lowered to a -1 dBFS true peak
    recording, _ = soundfile.read(recordings["g4"])
    said = re.search(rf"render: {re.escape(str(wav))} \(24-bit WAV, 44100 Hz like the input\), ([\d.]+) dB below the "
                     r"input's loudness \((-[\d.]+) LUFS\) so it does not clip \(true peak -1\.0 dBFS\)", text)
    assert said is not None, text
    below, input_lufs = float(said[1]), float(said[2])
    assert input_lufs == pytest.approx(loudness_lufs(recording, 44100), abs=0.05) and 0.5 < below < 2.0
    assert loudness_lufs(audio, rate) == pytest.approx(input_lufs - below, abs=0.1)
    assert true_peak_db(audio) <= -0.99
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def voice_algorithm(path: Path) -> int:
    return read_syx_voices(path, strict=True).voices[0].voice["algorithm"]


def test_bad_input_is_refused_before_the_model_loads(tmp_path: Path, recordings: dict[str, Path],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"not audio at all" * 64)
    cases = [
        ([str(tmp_path / "missing.wav")], f"audio file {tmp_path / 'missing.wav'} not found: give an existing WAV, FLAC, "
                                          "OGG or AIFF file"),
        ([str(tmp_path)], f"audio file {tmp_path} is a folder, not a file: name a WAV, FLAC, OGG or AIFF file in it"),
        ([str(garbage)], f"audio file {garbage} cannot be decoded (format not recognised): give WAV, FLAC, OGG or AIFF"),
        ([str(recordings["c4"]), "--plot", str(tmp_path / "no" / "c4.png")],
         f"--plot {tmp_path / 'no' / 'c4.png'}: the folder {tmp_path / 'no'} does not exist; create it first "
         f"(mkdir -p {tmp_path / 'no'})"),
    ]
    for args, message in cases:
        assert main(["infer", *args, "--out", str(tmp_path / "x.syx")]) == 2
        err = capsys.readouterr().err
        assert err == f"dexbridge infer: {message}\n"  # nothing else: the model never started loading
    out = tmp_path / "no" / "such" / "x.syx"
    assert main(["infer", str(recordings["c4"]), "--out", str(out)]) == 2
    assert f"--out {out}: the folder {out.parent} does not exist; create it first" in capsys.readouterr().err
    assert main(["infer", str(recordings["c4"]), "--out-dir", str(tmp_path / "no" / "such")]) == 2
    assert f"the folder {tmp_path / 'no'} does not exist" in capsys.readouterr().err
    assert not (tmp_path / "no").exists() and not (tmp_path / "x.syx").exists()  # nothing created silently


def test_errors_exit_2_with_the_reason(tiny_checkpoint: Path, recordings: dict[str, Path], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.wav"
    assert main(["infer", str(missing), "--out", str(tmp_path / "x.syx"), "--checkpoint", str(tiny_checkpoint)]) == 2
    assert f"dexbridge infer: audio file {missing} not found: give an existing WAV" in capsys.readouterr().err
    both = [str(recordings["g4"]), str(recordings["c4"])]
    assert main(["infer", *both, "--out", str(tmp_path / "x.syx"), "--checkpoint", str(tiny_checkpoint)]) == 2
    assert "--out names one .syx file but 2 AUDIO files were given: use --out-dir DIR" in capsys.readouterr().err
    silent = tmp_path / "silent.wav"
    soundfile.write(silent, np.zeros(22050), 22050)
    assert main(["infer", str(silent), "--out", str(tmp_path / "x.syx"), "--backend", "torch",
                 "--checkpoint", str(tiny_checkpoint)]) == 2
    assert "audio is silent" in capsys.readouterr().err
    assert not (tmp_path / "x.syx").exists()


def test_axes_export_on_a_corpus(tiny_checkpoint: Path, brass_path: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    entries = [CorpusEntry(item.voice, ClampReport(), "brass.syx", item.slot) for item in read_syx_voices(brass_path).voices]
    build_corpus(tmp_path / "corpus.sqlite", entries)
    exported = tmp_path / "serving.pt"
    code = main(["export-checkpoint", str(tiny_checkpoint), "--out", str(exported),
                 "--axes-corpus", str(tmp_path / "corpus.sqlite"), "--axes", "3"])
    assert code == 0 and "latent axes: 3 principal axes of the train split" in capsys.readouterr().out
    axes = load_checkpoint(exported).latent_axes
    assert axes is not None and axes.components.shape == (3, 610)


def test_takes_give_one_voice(tiny_checkpoint: Path, recordings: dict[str, Path], library: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "horn.syx"
    code = main(["infer", "--take", f"{recordings['c4']}:60:85", "--take", f"{recordings['g4']}:67:85", "--out", str(out),
                 "--json", "--max-renders", "60", "--no-library", "--library", str(library), "--backend", "torch",
                 "--checkpoint", str(tiny_checkpoint)])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["diagnostics"]["source"] == "library: INIT VOICE (init.syx:1)" and report["parameters"]["transpose"] == 24
    assert read_syx_voices(out, strict=True).voices[0].voice.name.strip() == "HORN"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--take", "x.wav:200"], "note 200 out of range 0..127"),
        (["--take", "x.wav:60:0"], "velocity 0 out of range 1..127"),
    ],
)
def test_take_arguments_are_checked(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["infer", *args, "--out", "x.syx"])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_takes_need_one_out_and_no_audio(recordings: dict[str, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["infer", str(recordings["c4"]), "--take", f"{recordings['g4']}:67", "--out", str(tmp_path / "x.syx")]) == 2
    assert "give no AUDIO" in capsys.readouterr().err
    assert main(["infer", "--take", str(tmp_path / "missing.wav"), "--out", str(tmp_path / "x.syx")]) == 2
    assert "missing.wav not found" in capsys.readouterr().err


def test_a_quiet_recording_gets_a_render_as_quiet_as_it(tiny_checkpoint: Path, recordings: dict[str, Path], tmp_path: Path,
                                                        library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A render once came out at 22 050 Hz float, 20 dB louder than a quiet bell it answered."""
    g4, _ = soundfile.read(recordings["g4"])
    quiet = tmp_path / "far bell.flac"
    soundfile.write(quiet, 0.1 * soxr.resample(g4[:, 0], 44100, 48000), 48000)  # -20 dB, 48 kHz mono
    render = tmp_path / "bell_dx7.ogg"
    assert main(["infer", str(quiet), "--out", str(tmp_path / "bell.syx"), "--render", str(render), "--json", "--no-search",
                 "--no-library", "--library", str(library), "--backend", "torch", "--checkpoint", str(tiny_checkpoint)]) == 0
    report = json.loads(capsys.readouterr().out)["render"]
    assert report["output"] == str(render) and report["sample_rate"] == 48000 and report["below_input_db"] == 0.0
    info = soundfile.info(str(render))
    assert (info.format, info.subtype, info.samplerate) == ("OGG", "VORBIS", 48000)
    audio, rate = soundfile.read(render)
    assert loudness_lufs(audio, rate) == pytest.approx(loudness_lufs(soundfile.read(quiet)[0], 48000), abs=0.3)
    assert report["input_lufs"] == pytest.approx(loudness_lufs(soundfile.read(quiet)[0], 48000), abs=0.01)


def _dexbridge(*args: str) -> list[str]:
    return [sys.executable, "-m", "bridge.commands.cli", *args]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--render", "{tmp}/p.mp3"], "--render {tmp}/p.mp3: '.mp3' is not a format --render writes; end the name in "
                                      ".wav, .flac or .ogg (e.g. p.wav)"),
        (["--render", "{tmp}/p"], "--render {tmp}/p: no extension; end the name in .wav, .flac or .ogg (e.g. p.wav)"),
        (["--plot", "{tmp}/x.jpgx"], "--plot {tmp}/x.jpgx: '.jpgx' is not a format --plot writes; end the name in .png "
                                     "(e.g. x.png)"),
        (["--channel", "17"], "argument --channel: MIDI channel 17 out of range 1..16"),
        (["--channel", "0"], "argument --channel: MIDI channel 0 out of range 1..16"),
        (["--out", "{tmp}/p.txt"], "--out {tmp}/p.txt: '.txt' is not a format --out writes; end the name in .syx "
                                   "(e.g. p.syx)"),
        (["{empty}"], "audio file {empty} holds no audio (0 samples): give a recording of one note, ideally 4 s"),
    ],
)
def test_every_argument_is_checked_before_the_model_loads(recordings: dict[str, Path], tmp_path: Path, args: list[str],
                                                          message: str) -> None:
    """Each of these once ran the model (seconds) before failing: with a traceback (exit 1), in the wire's
    0..15 numbering, or not at all (a PNG written as x.jpgx, a voice dump as p.txt)."""
    empty = tmp_path / "empty.wav"
    soundfile.write(empty, np.zeros(0), 44100)
    fill = {"tmp": str(tmp_path), "empty": str(empty)}
    args = [arg.format(**fill) for arg in args]
    audio = [] if str(empty) in args else [str(recordings["c4"])]
    out = [] if "--out" in args else ["--out", str(tmp_path / "c4.syx")]
    began = time.monotonic()
    result = subprocess.run(_dexbridge("infer", *audio, *out, *args), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message.format(**fill) in result.stderr
    assert "loading the voice library" not in result.stderr and "Traceback" not in result.stderr
    assert time.monotonic() - began < 5.0  # imports only: the model takes seconds
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.wav"]  # nothing written


def _run_measured(args: list[str]) -> tuple[int, str, int]:
    """Run a command; its exit code, stdout and peak resident memory (bytes, the kernel's ru_maxrss)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(args, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        assert proc.returncode == 0, err.read()[-2000:]
        return proc.returncode, out.read(), usage.ru_maxrss * 1024


def test_a_long_recording_is_read_only_around_its_note(tiny_checkpoint: Path, recordings: dict[str, Path],
                                                       tmp_path: Path) -> None:
    """A 20-minute WAV once took 2.2-2.6 GB on the command line, read whole, with no word that 4 s were used."""
    g4, _ = soundfile.read(recordings["g4"])
    note = soxr.resample(g4, 44100, 48000)
    long = tmp_path / "long take.wav"
    with soundfile.SoundFile(long, "w", 48000, 2, "PCM_16") as file:  # 10 minutes, the note at 5:00
        for minute in range(10):
            block = np.zeros((60 * 48000, 2))
            if minute == 5:
                block[: len(note)] = note
            file.write(block)
    short = tmp_path / "short.wav"
    soundfile.write(short, note, 48000, subtype="PCM_16")
    common = ["--no-search", "--no-library", "--backend", "torch", "--checkpoint", str(tiny_checkpoint), "-q"]
    _, text, long_peak = _run_measured(_dexbridge("infer", str(long), "--out", str(tmp_path / "long.syx"), *common))
    assert "used 300.0-304.0 s of 600.0 s (the note from its onset; the rest is not used)" in text
    _, _, short_peak = _run_measured(_dexbridge("infer", str(short), "--out", str(tmp_path / "short.syx"), *common))
    assert long_peak < short_peak + 100 * 2**20, f"{long_peak / 2**20:.0f} MiB against {short_peak / 2**20:.0f} MiB"
    _, report, _ = _run_measured(_dexbridge("infer", str(long), "--out", str(tmp_path / "long.syx"), "--json", *common))
    used = json.loads(report)["used"]
    assert used == {"start_s": pytest.approx(300.0, abs=0.01), "stop_s": pytest.approx(304.0, abs=0.01), "file_s": 600.0}


def test_defaults_give_the_same_voice_on_a_quiet_and_a_busy_machine(recordings: dict[str, Path], tmp_path: Path) -> None:
    """The default search budget is in renders: how busy the machine is decides how long a search takes, not
    which voice it finds (every core kept busy by spinning processes during the second run)."""
    quiet = subprocess.run(_dexbridge("infer", str(recordings["c4"]), "--out", str(tmp_path / "quiet.syx"), "--json"),
                           capture_output=True, text=True, timeout=300, check=True)
    spin = "import time\nend = time.monotonic() + 120\nwhile time.monotonic() < end: pass"
    spinners = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(2 * (os.cpu_count() or 1))]
    try:
        busy = subprocess.run(_dexbridge("infer", str(recordings["c4"]), "--out", str(tmp_path / "busy.syx"), "--json"),
                              capture_output=True, text=True, timeout=300, check=True)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    renders = {json.loads(run.stdout)["diagnostics"]["renders"] for run in (quiet, busy)}
    assert renders == {json.loads(quiet.stdout)["diagnostics"]["renders"]} and renders.pop() >= 200
    assert (tmp_path / "quiet.syx").read_bytes() == (tmp_path / "busy.syx").read_bytes()
