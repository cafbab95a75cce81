"""Renders brought to the recording's rate and loudness, never clipping, written in the format their
extension names: measured on real audio and real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from bridge.commands.render_out import RENDER_FORMATS, loudness_lufs, match_loudness, true_peak_db, write_audio
from models.errors import OutputPathError
from models.render import SAMPLE_RATE, Renderer
from models.voice import Voice


@pytest.fixture(scope="module")
def render() -> np.ndarray:
    """The INIT VOICE at middle C, as dexed-py plays it (22 050 Hz, peaking near full scale)."""
    return Renderer().render(Voice.init(), 60, 100)


def _tone(rate: int, seconds: float, peak: float) -> np.ndarray:
    """A decaying 330 Hz tone peaking at ``peak``."""
    t = np.arange(round(rate * seconds)) / rate
    return peak * np.sin(2 * np.pi * 330.0 * t) * np.exp(-t)


def test_a_quiet_recording_gets_a_render_as_quiet_at_its_rate(render: np.ndarray) -> None:
    bell = _tone(48_000, 3.0, 0.03)  # ~20 dB below the voice, as a bell recorded at a distance
    stereo = np.stack([bell, bell], axis=1)
    matched = match_loudness(render, SAMPLE_RATE, stereo, 48_000)
    assert matched.sample_rate == 48_000 and len(matched.audio) == round(len(render) * 48_000 / SAMPLE_RATE)
    assert matched.below_db == 0.0 and matched.gain_db < -15
    assert loudness_lufs(matched.audio, 48_000) == pytest.approx(loudness_lufs(stereo, 48_000), abs=0.05)
    assert matched.describe().startswith(f"as loud as the input ({matched.input_lufs:.1f} LUFS integrated")


def test_a_loud_recording_gets_a_render_lowered_only_as_far_as_its_true_peak_needs(render: np.ndarray) -> None:
    t = np.arange(2 * 44_100) / 44_100
    vowel = np.clip(4.0 * np.sin(2 * np.pi * 220.0 * t), -1.0, 1.0)  # held at full scale: little crest factor
    matched = match_loudness(render, SAMPLE_RATE, vowel, 44_100)
    assert matched.true_peak_db == pytest.approx(-1.0, abs=1e-6) and true_peak_db(matched.audio) <= -1.0 + 1e-6
    assert matched.below_db > 1.0
    assert loudness_lufs(matched.audio, 44_100) == pytest.approx(loudness_lufs(vowel, 44_100) - matched.below_db, abs=0.05)
    assert matched.describe() == (f"{matched.below_db:.1f} dB below the input's loudness ({matched.input_lufs:.1f} LUFS) "
                                  "so it does not clip (true peak -1.0 dBFS)")


def test_the_true_peak_sees_between_the_samples() -> None:
    quarter = np.sin(np.pi / 2 * np.arange(4096) + np.pi / 4)  # a tone at rate / 4: every sample at 0.707 of its peak
    assert 20 * np.log10(np.max(np.abs(quarter))) == pytest.approx(-3.01, abs=0.01)
    assert true_peak_db(quarter) == pytest.approx(0.0, abs=0.2)  # the polyphase filter rings a little at the ends
    assert true_peak_db(np.zeros(100)) == -np.inf


def test_a_silent_render_is_left_as_it_is() -> None:
    matched = match_loudness(np.zeros(SAMPLE_RATE), SAMPLE_RATE, _tone(SAMPLE_RATE, 1.0, 0.5), SAMPLE_RATE)
    assert matched.gain_db == 0.0 and not np.any(matched.audio)
    assert matched.describe() == "silent: nothing to match to the input's loudness"


def test_a_click_shorter_than_a_gating_block_is_measured() -> None:
    click = np.zeros(441)
    click[:40] = 0.5
    assert np.isfinite(loudness_lufs(click, 44_100))


@pytest.mark.parametrize(("name", "subtype"), [("r.wav", "PCM_24"), ("r.FLAC", "PCM_24"), ("r.ogg", "VORBIS")])
def test_renders_are_written_in_the_format_their_extension_names(render: np.ndarray, tmp_path: Path, name: str,
                                                                 subtype: str) -> None:
    matched = match_loudness(render, SAMPLE_RATE, _tone(44_100, 2.0, 0.5), 44_100)
    write_audio(tmp_path / name, matched.audio, matched.sample_rate)
    info = soundfile.info(str(tmp_path / name))
    assert (info.format, info.subtype, info.samplerate) == (RENDER_FORMATS[Path(name).suffix.lower()].format, subtype, 44_100)
    audio, _ = soundfile.read(tmp_path / name)
    assert loudness_lufs(audio, 44_100) == pytest.approx(matched.input_lufs, abs=0.3)  # Vorbis is lossy
    assert [p.name for p in tmp_path.iterdir()] == [name]  # written atomically: no temp file left


def test_other_formats_are_refused_naming_the_ones_written(tmp_path: Path) -> None:
    with pytest.raises(OutputPathError, match=r"'\.mp3' is not a format audio file writes; end the name in \.wav, \.flac "
                                              r"or \.ogg \(e\.g\. r\.wav\)"):
        write_audio(tmp_path / "r.mp3", np.zeros(100), 44_100)
    assert list(tmp_path.iterdir()) == []
