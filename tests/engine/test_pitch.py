"""f0 estimation on real dexed-py renders and synthetic sounds: pitch, octave, unpitched, bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest

from engine.pitch import F0Estimate, cents, estimate_f0, heard_f0, held_still, voice_f0
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


def _performed(f0: float, depth_cents: float = 0.0, rate_hz: float = 5.5, glide_seconds: float = 0.0,
               glide_cents: float = 0.0, formant_hz: float | None = None, seconds: float = 2.0) -> np.ndarray:
    """A harmonic note (harmonics falling 6 dB an octave) with sinusoidal vibrato and an optional glide into it
    (from ``glide_cents`` away, easing in over ``glide_seconds``), through one formant when given."""
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    glide = glide_cents * np.clip(1.0 - t / glide_seconds, 0.0, 1.0) ** 2 if glide_seconds else 0.0
    track = f0 * 2.0 ** ((glide + depth_cents * np.sin(2 * np.pi * rate_hz * t)) / 1200.0)
    phase = 2 * np.pi * np.cumsum(track) / SAMPLE_RATE
    harmonics = range(1, int(5000 / f0) + 1)
    gains = [1.0 / k if formant_hz is None else 1.0 / (1.0 + ((k * f0 - formant_hz) / 150.0) ** 2) for k in harmonics]
    audio = sum(gain * np.sin(k * phase) for k, gain in zip(harmonics, gains, strict=True))
    return 0.3 * audio / np.abs(audio).max() * np.clip(t / 0.03, 0.0, 1.0)


@pytest.mark.parametrize("depth", [50.0, 100.0])
@pytest.mark.parametrize("f0", [110.0, 220.0, 440.0])
def test_a_vibrato_note_is_tracked_to_its_centre(f0: float, depth: float) -> None:
    estimate = estimate_f0(_performed(f0, depth), SAMPLE_RATE)
    assert estimate.pitched and abs(cents(estimate.f0_hz, f0)) <= 10, estimate
    assert estimate.vibrato.rate_hz == pytest.approx(5.5, abs=0.3)
    assert 0.75 * depth <= estimate.vibrato.depth_cents <= 1.1 * depth and estimate.vibrato.delay_s == 0.0


def test_a_vibrato_that_comes_in_late_reports_its_delay_and_full_depth() -> None:
    t = np.arange(round(1.5 * SAMPLE_RATE)) / SAMPLE_RATE
    fade = np.clip((t - 0.3) / 0.2, 0.0, 1.0)  # straight for 0.3 s, in fully at 0.5 s: half depth at 0.4 s
    track = 220.0 * 2.0 ** (60.0 * fade * np.sin(2 * np.pi * 5.0 * t) / 1200.0)
    phase = 2 * np.pi * np.cumsum(track) / SAMPLE_RATE
    audio = 0.3 * sum(np.sin(k * phase) / k for k in range(1, 12))
    vibrato = estimate_f0(audio, SAMPLE_RATE).vibrato
    assert vibrato is not None and vibrato.rate_hz == pytest.approx(5.0, abs=0.3), vibrato
    assert vibrato.delay_s == pytest.approx(0.4, abs=0.12) and 45.0 <= vibrato.depth_cents <= 66.0, vibrato


@pytest.mark.parametrize("glide_cents", [-300.0, 200.0])
def test_a_150_ms_glide_into_the_note_is_left_out(glide_cents: float) -> None:
    estimate = estimate_f0(_performed(246.9, glide_seconds=0.15, glide_cents=glide_cents), SAMPLE_RATE)
    assert estimate.pitched and abs(cents(estimate.f0_hz, 246.9)) <= 10, estimate


def test_a_sung_vowel_louder_at_its_formant_than_at_its_fundamental() -> None:
    vowel = _performed(110.0, 80.0, 5.0, glide_seconds=0.1, glide_cents=-150.0, formant_hz=700.0)  # harmonic 6 loudest
    estimate = estimate_f0(vowel + 0.003 * RNG.standard_normal(vowel.size), SAMPLE_RATE)  # and a little breath
    assert estimate.pitched and abs(cents(estimate.f0_hz, 110.0)) <= 10, estimate
    assert estimate.vibrato is not None and estimate.vibrato.depth_cents > 50


def test_a_straight_note_reports_no_vibrato() -> None:
    estimate = estimate_f0(_performed(220.0), SAMPLE_RATE)
    assert abs(cents(estimate.f0_hz, 220.0)) < 5 and estimate.vibrato is None


def _with(voice: Voice, **values: int) -> Voice:
    return voice.replace({BY_NAME[name].index: value for name, value in values.items()})


def test_held_still_sets_the_pitch_envelope_at_its_sustain_and_stops_the_lfo_swinging_the_pitch() -> None:
    moving = _with(Voice.init(), pitch_eg_level1=70, pitch_eg_level2=60, pitch_eg_level3=52, pitch_eg_level4=40,
                   lfo_pm_depth=30, pitch_mod_sens=4, lfo_am_depth=20)
    still = held_still(moving)
    assert still.diff(moving) == {BY_NAME[name].index: value for name, value in [
        ("pitch_eg_level1", 70), ("pitch_eg_level2", 60), ("pitch_eg_level4", 40), ("lfo_pm_depth", 30)]}
    assert all(still[f"pitch_eg_level{stage}"] == 52 for stage in range(1, 5)) and still["lfo_am_depth"] == 20
    assert held_still(Voice.init()) == Voice.init()


@pytest.mark.parametrize("wave", range(6))  # triangle, saw down, saw up, square, sine, sample and hold
def test_a_voice_with_vibrato_is_read_held_still_at_its_centre(renderer: Renderer, wave: int) -> None:
    vibrato = _with(Voice.init(), lfo_pm_depth=40, pitch_mod_sens=4, lfo_wave=wave, lfo_speed=35)
    heard = voice_f0(vibrato, Renderer(SAMPLE_RATE, 2.0, 2.0), note=60)  # as a listener hears it: tracked
    assert wave == 5 or heard.vibrato is not None and heard.vibrato.depth_cents > 50, heard
    quick = voice_f0(vibrato, renderer, note=60, checked=False)
    assert quick == voice_f0(Voice.init(), renderer, note=60, checked=False) and quick.vibrato is None
    assert abs(cents(quick.f0_hz, heard.f0_hz)) < 5 and abs(cents(quick.f0_hz, _hz(60))) < 5, (quick, heard)


def test_a_pitch_envelope_is_read_where_it_settles(renderer: Renderer) -> None:
    scoop = _with(Voice.init(), pitch_eg_level1=62, pitch_eg_level2=56, pitch_eg_rate1=40, pitch_eg_rate2=40,
                  pitch_eg_level4=62)  # from a few semitones above down to the note over the first half second
    quick = voice_f0(scoop, renderer, note=60, checked=False)
    assert quick.pitched and abs(cents(quick.f0_hz, _hz(60))) < 5, quick


def test_a_voice_heard_unpitched_as_played_can_read_pitched_held_still(renderer: Renderer) -> None:
    siren = _with(Voice.init(), lfo_pm_depth=99, pitch_mod_sens=7, lfo_wave=5, lfo_speed=70)  # random, octaves wide
    assert not voice_f0(siren, renderer, note=60).pitched  # what the search's answer must be heard as: not in tune
    quick = voice_f0(siren, renderer, note=60, checked=False)
    assert quick.pitched and abs(cents(quick.f0_hz, _hz(60))) < 5, quick


def test_an_untracked_estimate_keeps_its_one_spectrum_answer() -> None:
    note = _performed(220.0, 12.0)  # a shallow vibrato one spectrum still reads
    tracked = heard_f0(note, SAMPLE_RATE)
    assert tracked == estimate_f0(note, SAMPLE_RATE) and tracked.vibrato is not None
    untracked = heard_f0(note, SAMPLE_RATE, tracked=False)
    assert untracked.pitched and untracked.vibrato is None and abs(cents(untracked.f0_hz, 220.0)) < 10, untracked
    assert untracked.f0_hz != tracked.f0_hz


def _organ(sub_partial_db: float) -> np.ndarray:
    """A loud 392 Hz partial (and its octave) with 5.5 Hz vibrato, over a quiet partial at 65.5 Hz: its 6th harmonic."""
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    phase = 2 * np.pi * np.cumsum(392.0 * 2.0 ** (6.0 * np.sin(2 * np.pi * 5.5 * t) / 1200.0)) / SAMPLE_RATE
    return 0.3 * (10.0 ** (sub_partial_db / 20.0) * np.sin(2 * np.pi * 65.5 * t) + np.sin(phase) + 0.3 * np.sin(2 * phase))


def test_a_weak_sub_partial_does_not_set_the_pitch_heard() -> None:
    estimate = estimate_f0(_organ(-15.0), SAMPLE_RATE)
    assert estimate.pitched and abs(cents(estimate.f0_hz, 392.0)) < 20, estimate


def test_weak_partials_between_a_loud_harmonic_keep_the_fundamental() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE  # an oboe's E5: the 2nd harmonic 19 dB above the 1st, 3rd and 5th
    gains = {1: -19.0, 2: 0.0, 3: -22.0, 4: -27.0, 5: -27.0, 6: -30.0}
    oboe = sum(10.0 ** (db / 20.0) * np.sin(2 * np.pi * k * 659.3 * t) for k, db in gains.items())
    estimate = estimate_f0(0.3 * oboe, SAMPLE_RATE)
    assert estimate.pitched and abs(cents(estimate.f0_hz, 659.3)) < 20, estimate


def test_a_voice_the_two_trackers_hear_an_octave_apart_is_not_pitched() -> None:
    organ = _organ(-10.0)  # the partials' common divisor, 65.5 Hz, explains every partial; CREPE hears 392 Hz
    assert abs(cents(estimate_f0(organ, SAMPLE_RATE).f0_hz, 65.5)) < 20
    estimate = voice_f0(Voice.init(), lambda voice, note, velocity: organ)
    assert not estimate.pitched and estimate.reason.startswith("unpitched: ambiguous"), estimate
    heard = float(re.search(r"hears ([0-9.]+) Hz", estimate.reason).group(1))
    assert abs(cents(heard, 392.0)) < 50, estimate
    unchecked = voice_f0(Voice.init(), lambda voice, note, velocity: organ, checked=False)
    assert unchecked == estimate_f0(organ, SAMPLE_RATE) and unchecked.pitched  # the partials alone: no check
