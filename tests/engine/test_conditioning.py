"""Input conditioning on dexed-py renders: rates, channels, window, level, pitch, refusals."""

from __future__ import annotations

import re

import numpy as np
import pytest
import soxr

from engine.conditioning import PEAK_RANGE_DB, Conditioner, plan_transpose
from engine.pitch import estimate_f0 as estimate_pitch
from models.errors import ModelInputError, SilentInputError
from models.render import MULTI_NOTES, SAMPLE_RATE, SINGLE_NOTE, Renderer
from models.voice import Voice

SAMPLES = 4 * SAMPLE_RATE


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


@pytest.fixture(scope="module")
def conditioner() -> Conditioner:
    return Conditioner(SAMPLE_RATE, SAMPLES, SINGLE_NOTE)


@pytest.fixture(scope="module")
def init_at_60(renderer: Renderer) -> np.ndarray:
    return renderer.render(Voice.init(), 60, 85)


def test_a_model_rate_render_at_the_reference_note_goes_through_untouched(conditioner: Conditioner,
                                                                           init_at_60: np.ndarray) -> None:
    result = conditioner(init_at_60, SAMPLE_RATE)
    assert result.audio.shape == (1, SAMPLES) and result.audio.dtype == np.float32
    np.testing.assert_array_equal(result.audio[0], init_at_60)
    assert result.transpose == 0 and result.gain_db == 0.0
    assert result.f0_hz == pytest.approx(261.63, rel=0.01) and abs(result.residual_cents) < 10


def test_stereo_at_48k_is_mixed_down_resampled_and_fitted(conditioner: Conditioner, init_at_60: np.ndarray) -> None:
    at_48k = soxr.resample(init_at_60.astype(np.float64), SAMPLE_RATE, 48000)
    stereo = np.stack([at_48k, 0.5 * at_48k], axis=1)  # (samples, channels)
    result = conditioner(stereo, 48000)
    assert result.audio.shape == (1, SAMPLES)
    assert result.transpose == 0 and result.f0_hz == pytest.approx(261.63, rel=0.01)
    # mono mixdown = 0.75 x the source; resampling back and forth keeps the waveform
    np.testing.assert_allclose(result.audio[0, 1000:60000], 0.75 * init_at_60[1000:60000], atol=2e-3)


def test_leading_silence_is_trimmed_and_short_audio_padded(conditioner: Conditioner, init_at_60: np.ndarray) -> None:
    delayed = np.concatenate([np.zeros(SAMPLE_RATE // 2, np.float32), init_at_60[: SAMPLE_RATE]])
    result = conditioner(delayed, SAMPLE_RATE)
    onset = int(np.flatnonzero(np.abs(result.audio[0]) > 1e-3)[0])
    assert onset < 0.03 * SAMPLE_RATE  # the note starts where training renders start theirs
    assert not result.audio[0, SAMPLE_RATE + 200 :].any()  # 1 s of note (+ 5 ms before it), zero-padded to 4 s


def test_level_outside_the_training_range_is_scaled_to_its_edge(conditioner: Conditioner, init_at_60: np.ndarray) -> None:
    quiet = conditioner(init_at_60 * 10 ** (-30 / 20), SAMPLE_RATE)
    assert quiet.level_db == pytest.approx(-30.0, abs=0.1)
    assert quiet.gain_db == pytest.approx(PEAK_RANGE_DB[0] + 30.0, abs=0.1)
    assert 20 * np.log10(np.abs(quiet.audio).max()) == pytest.approx(PEAK_RANGE_DB[0], abs=0.1)
    assert 20 * np.log10(np.abs(quiet.at_input_level).max()) == pytest.approx(-30.0, abs=0.1)  # what voices are compared with


def test_a_note_at_midi_67_is_shifted_to_60_and_transposed_up_7(conditioner: Conditioner, renderer: Renderer,
                                                                init_at_60: np.ndarray) -> None:
    result = conditioner(renderer.render(Voice.init(), 67, 85), SAMPLE_RATE)
    assert result.transpose == 7 and abs(result.residual_cents) < 10
    assert estimate_pitch(result.audio[0].astype(np.float64), SAMPLE_RATE).f0_hz == pytest.approx(261.63, rel=0.01)


def test_multi_note_models_get_one_shifted_copy_per_note(renderer: Renderer) -> None:
    result = Conditioner(SAMPLE_RATE, SAMPLES, MULTI_NOTES)(renderer.render(Voice.init(), 60, 85), SAMPLE_RATE)
    assert result.audio.shape == (len(MULTI_NOTES), SAMPLES)
    pitches = [estimate_pitch(row.astype(np.float64), SAMPLE_RATE).f0_hz for row in result.audio]
    expected = [440.0 * 2 ** ((note - 69) / 12) for note, _ in MULTI_NOTES]
    np.testing.assert_allclose(pitches, expected, rtol=0.01)


@pytest.mark.parametrize(("f0_hz", "shift", "transpose"), [
    (261.63, 0.0, 0), (392.0, -7.0, 7), (196.0, -7.0, 7), (130.81, 0.0, 0), (1480.0, -6.0, 6), (46.25, 6.0, -6),
])
def test_transpose_plan_folds_to_the_c_at_or_below(f0_hz: float, shift: float, transpose: int) -> None:
    plan = plan_transpose(f0_hz)
    assert (round(plan.shift), plan.transpose, plan.messages) == (shift, transpose, ())
    assert abs(plan.residual_cents) < 1


def test_transpose_is_clamped_to_the_dx7_range_with_a_message() -> None:
    plan = plan_transpose(10.0)  # MIDI 3: 33 semitones below C2
    assert plan.transpose == -24
    assert "needs transpose -33 semitones, outside the DX7 range -24..+24: clamped to -24" in plan.messages[0]


def test_no_pitch_leaves_transpose_at_zero_with_a_message() -> None:
    plan = plan_transpose(None)
    assert (plan.shift, plan.transpose) == (0.0, 0) and "no clear pitch" in plan.messages[0]


def test_silence_is_refused(conditioner: Conditioner) -> None:
    with pytest.raises(SilentInputError, match=re.escape("audio is silent: loudest frame -80.0 dB RMS")):
        conditioner(np.full(SAMPLES, 1e-4, np.float32), SAMPLE_RATE)


@pytest.mark.parametrize("colour", ["white", "pink"])
def test_steady_noise_is_answered_with_a_note_saying_so(conditioner: Conditioner, colour: str) -> None:
    noise = np.random.default_rng(0).standard_normal(SAMPLES)
    if colour == "pink":
        spectrum = np.fft.rfft(noise)
        spectrum[1:] /= np.sqrt(np.arange(1, spectrum.size))
        noise = np.fft.irfft(spectrum, SAMPLES)
    heard = conditioner(0.3 * noise / np.abs(noise).max(), SAMPLE_RATE)
    assert heard.f0_hz is None
    assert any(message.startswith("the recording is steady noise: no pitch") for message in heard.messages)


def test_a_note_gets_no_noise_note(conditioner: Conditioner) -> None:
    t = np.arange(SAMPLES) / SAMPLE_RATE
    decaying = (np.random.default_rng(0).standard_normal(SAMPLES) * np.exp(-3.0 * t)).astype(np.float32)
    assert not any("steady noise" in message for message in conditioner(0.3 * decaying, SAMPLE_RATE).messages)


@pytest.mark.parametrize(("audio", "message"), [
    (np.zeros(0, np.float32), "audio is empty (0 samples)"),
    (np.array([0.1, np.nan, np.inf]), "audio holds 2 NaN/inf samples (first at sample 1)"),
    (np.zeros((2, SAMPLES), np.float32), "reads as 2 samples x 88200 channels (at most 8): pass (samples, channels), e.g. audio.T"),
    (np.zeros((2, 2, 2), np.float32), "audio shape (2, 2, 2): give 1-D mono or (samples, channels) audio"),
])
def test_malformed_audio_is_refused(conditioner: Conditioner, audio: np.ndarray, message: str) -> None:
    with pytest.raises(ModelInputError, match=re.escape(message)):
        conditioner(audio, SAMPLE_RATE)


def test_a_bad_sample_rate_is_refused(conditioner: Conditioner, init_at_60: np.ndarray) -> None:
    with pytest.raises(ModelInputError, match=re.escape("sample rate 0 Hz: give a whole number of Hz in 1000..768000")):
        conditioner(init_at_60, 0)
