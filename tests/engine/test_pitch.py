"""f0 estimation on real dexed-py renders and synthetic sounds: pitch, octave, unpitched, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from engine.pitch import F0Estimate, cents, estimate_f0, voice_f0
from models.errors import ModelInputError
from models.params import BY_NAME
from models.render import SAMPLE_RATE, Renderer
from models.voice import Voice

RNG = np.random.default_rng(0)


def _hz(note: int) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12)


def _op(voice: Voice, op: int, **values: int) -> Voice:
    return voice.replace({BY_NAME[f"op{op}_{name}"].index: value for name, value in values.items()})


def _fm(carrier: int, modulator: int, level: int, modulator_fine: int = 0) -> Voice:
    """Algorithm 1's OP1 (carrier, coarse ``carrier``) modulated by OP2 (coarse ``modulator``)."""
    return _op(_op(Voice.init(), 1, coarse=carrier), 2, coarse=modulator, fine=modulator_fine, output_level=level)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(SAMPLE_RATE, 1.0, 1.0)


@pytest.mark.parametrize("note", [36, 43, 48, 60, 66, 72, 84])
def test_renders_across_c2_c6_are_within_50_cents(renderer: Renderer, note: int) -> None:
    voice = _fm(1, 1, 70)  # a bright FM tone, not a sine
    estimate = estimate_f0(renderer.render(voice, note), SAMPLE_RATE)
    assert estimate.pitched and abs(cents(estimate.f0_hz, _hz(note))) < 50, estimate
    assert estimate.harmonicity > 0.9 and estimate.voiced_fraction > 0.5 and estimate.reason == ""


@pytest.mark.parametrize(("carrier", "modulator", "level", "expected"), [
    (2, 1, 80, 1.0),  # strongest partial at ratio 2; the sidebands at 1, 3, 5 ... put f0 at the modulator's
    (1, 0, 80, 0.5),  # carrier 1 modulated at ratio 0.5: f0 half the carrier's
    (3, 2, 85, 1.0),  # carrier 3, modulator 2: partials 1, 3, 5 ... f0 at ratio 1, below both
])
def test_octave_ambiguous_fm_voices_are_read_at_their_fundamental(renderer: Renderer, carrier: int, modulator: int,
                                                                   level: int, expected: float) -> None:
    estimate = voice_f0(_fm(carrier, modulator, level), renderer, note=60)
    assert estimate.pitched and abs(cents(estimate.f0_hz, _hz(60) * expected)) < 50, estimate


def test_voice_f0_takes_a_render_callable(renderer: Renderer) -> None:
    estimate = voice_f0(Voice.init(), lambda voice, note, velocity: renderer.render(voice, note, velocity), note=72)
    assert estimate.pitched and abs(cents(estimate.f0_hz, _hz(72))) < 5


def test_a_440_hz_sine_is_within_5_cents() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    estimate = estimate_f0(0.5 * np.sin(2 * np.pi * 440.0 * t), SAMPLE_RATE)
    assert estimate.pitched and abs(cents(estimate.f0_hz, 440.0)) < 5
    stereo_44k = np.repeat(0.5 * np.sin(2 * np.pi * 440.0 * np.arange(44100) / 44100)[:, None], 2, axis=1)
    assert abs(cents(estimate_f0(stereo_44k, 44100).f0_hz, 440.0)) < 5


def test_a_white_noise_burst_is_unpitched() -> None:
    audio = np.zeros(SAMPLE_RATE)
    audio[: SAMPLE_RATE // 2] = 0.3 * RNG.standard_normal(SAMPLE_RATE // 2)
    estimate = estimate_f0(audio, SAMPLE_RATE)
    assert not estimate.pitched and estimate.f0_hz is None
    assert estimate.reason == "unpitched: noise"


@pytest.mark.parametrize("kind", ["noise", "tone"])
def test_a_5_ms_click_is_unpitched(kind: str) -> None:
    click = np.zeros(SAMPLE_RATE)
    n = round(0.005 * SAMPLE_RATE)
    click[:n] = 0.5 * RNG.standard_normal(n) if kind == "noise" else np.sin(2 * np.pi * 1000.0 * np.arange(n) / SAMPLE_RATE)
    estimate = estimate_f0(click, SAMPLE_RATE)
    assert not estimate.pitched and estimate.reason == "unpitched: no stable pitch"


def test_an_inharmonic_fm_bell_is_unpitched(renderer: Renderer) -> None:
    estimate = voice_f0(_fm(1, 1, 90, modulator_fine=41), renderer)  # modulator ratio 1.41: no common f0
    assert not estimate.pitched and estimate.reason == "unpitched: inharmonic"


def test_a_glide_has_no_stable_pitch() -> None:
    t = np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE
    glide = 0.5 * np.sin(2 * np.pi * 200.0 * (2.0 ** (4 * t) - 1) / (4 * np.log(2)))  # 200 Hz up two octaves
    assert not estimate_f0(glide, SAMPLE_RATE).pitched


def test_silence_is_unpitched_not_an_error() -> None:
    assert estimate_f0(np.zeros(1000), SAMPLE_RATE) == F0Estimate(None, 0.0, 0.0, "unpitched: silent")


@pytest.mark.parametrize(("audio", "rate", "words"), [
    (np.array([], dtype=np.float32), SAMPLE_RATE, "empty"),
    (np.array([0.1, np.nan, 0.2]), SAMPLE_RATE, "NaN"),
    (np.array([0.1, np.inf]), SAMPLE_RATE, "NaN/inf"),
    (np.zeros((2, 2, 2)), SAMPLE_RATE, "1-D mono"),
    (np.zeros(100), 0, "sample rate"),
])
def test_bad_input_raises_a_plain_model_input_error(audio: np.ndarray, rate: int, words: str) -> None:
    with pytest.raises(ModelInputError, match=words):
        estimate_f0(audio, rate)


def test_cents() -> None:
    assert cents(880.0, 440.0) == pytest.approx(1200.0)
    assert cents(440.0, 880.0) == pytest.approx(-1200.0)
    with pytest.raises(ModelInputError, match="positive"):
        cents(0.0, 440.0)
