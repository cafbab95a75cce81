"""Tuning a voice to a recording's pitch, measured on real dexed-py renders."""

from __future__ import annotations

import numpy as np
import pytest

from engine.conditioning import REFERENCE_NOTE
from engine.pitch import F0Estimate, estimate_f0, voice_f0
from engine.tuning import fine_tune, scale_ratios, tune
from models.params import BY_NAME, TRANSPOSE_CENTRE, TRANSPOSE_INDEX
from models.render import SAMPLE_RATE, Renderer
from models.voice import Voice

C4 = 261.6256


def _hz(note: int) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(SAMPLE_RATE, 1.0, 1.0)


@pytest.fixture(scope="module")
def measure(renderer: Renderer):  # noqa: ANN201 - a closure over the module's renderer
    def measure(voice: Voice) -> F0Estimate:
        return estimate_f0(renderer.render(voice, REFERENCE_NOTE), SAMPLE_RATE)

    return measure


def _coarse(voice: Voice, op: int, coarse: int, fine: int = 0) -> Voice:
    return voice.replace({BY_NAME[f"op{op}_coarse"].index: coarse, BY_NAME[f"op{op}_fine"].index: fine})


def test_scale_ratios_moves_every_ratio_operator_by_whole_octaves() -> None:
    voice = _coarse(_coarse(Voice.init(), 1, 3), 2, 1, 50)  # OP1 ratio 3, OP2 ratio 1.5 (modulating OP1)
    voice = voice.replace({BY_NAME["op2_output_level"].index: 40})
    up = scale_ratios(voice, 1)
    assert (up["op1_coarse"], up["op1_fine"], up["op2_coarse"], up["op2_fine"]) == (6, 0, 3, 0)
    down = scale_ratios(voice, -1)
    assert (down["op1_coarse"], down["op1_fine"], down["op2_coarse"], down["op2_fine"]) == (1, 50, 0, 50)
    assert scale_ratios(voice, -2) is None  # 1.5 / 4 is below the DX7's lowest ratio, 0.5
    fixed = voice.replace({BY_NAME["op3_osc_mode"].index: 1, BY_NAME["op3_coarse"].index: 2,
                           BY_NAME["op3_output_level"].index: 30})
    assert scale_ratios(fixed, 1)["op3_coarse"] == 2  # a fixed-frequency operator keeps its frequency
    assert scale_ratios(voice, 1)["op4_coarse"] == 1  # a silent operator is left alone


def test_a_voice_an_octave_up_is_transposed_down(measure) -> None:  # noqa: ANN001
    voice = _coarse(Voice.init(), 1, 2)  # a sine at C5 when played at C4
    tuning = tune(voice, C4, measure)
    assert tuning.voice[TRANSPOSE_INDEX] == TRANSPOSE_CENTRE - 12
    assert tuning.in_tune and abs(tuning.cents) < 5 and tuning.octaves == 0 and tuning.pitch == "pitched"


@pytest.mark.parametrize("note", [36, 48, 67, 84])
def test_the_tuned_voice_plays_at_the_input_pitch(measure, renderer: Renderer, note: int) -> None:  # noqa: ANN001
    tuning = tune(Voice.init(), _hz(note), measure)
    assert tuning.voice[TRANSPOSE_INDEX] - TRANSPOSE_CENTRE == note - REFERENCE_NOTE
    played = estimate_f0(renderer.render(tuning.voice, REFERENCE_NOTE), SAMPLE_RATE).f0_hz
    assert played == pytest.approx(_hz(note), rel=0.01)


def test_beyond_two_octaves_the_ratios_move(measure, renderer: Renderer) -> None:  # noqa: ANN001
    voice = _coarse(Voice.init(), 1, 8)  # three octaves above C4
    tuning = tune(voice, _hz(36), measure)  # C2: 60 semitones down, past transpose's -24
    assert tuning.octaves < 0 and tuning.in_tune and "ratios scaled" in tuning.messages[0]
    played = estimate_f0(renderer.render(tuning.voice, REFERENCE_NOTE), SAMPLE_RATE).f0_hz
    assert played == pytest.approx(_hz(36), rel=0.01)


def test_an_unpitched_input_keeps_the_voice_transpose(measure) -> None:  # noqa: ANN001
    voice = Voice.init().replace({TRANSPOSE_INDEX: TRANSPOSE_CENTRE + 5})
    tuning = tune(voice, None, measure, input_reason="unpitched: noise")
    assert tuning.voice == voice and tuning.cents is None and tuning.pitch == "input unpitched: noise"
    assert tuning.voice_f0_hz == pytest.approx(_hz(65), rel=0.01)


def test_a_silent_voice_is_not_tuned(measure) -> None:  # noqa: ANN001
    silent = Voice.init().replace({BY_NAME["op1_output_level"].index: 0})
    tuning = tune(silent, C4, measure)
    assert tuning.voice == silent and not tuning.in_tune and tuning.pitch == "voice unpitched: silent"


def test_operator_detune_takes_the_last_cents(measure) -> None:  # noqa: ANN001
    sharp = Voice.init().replace({BY_NAME[f"op{op}_detune"].index: 14 for op in range(1, 7)})  # about +8 cents at C4
    tuning = tune(sharp, C4, measure)
    assert tuning.voice[TRANSPOSE_INDEX] == TRANSPOSE_CENTRE and 5 < tuning.cents < 12
    finer = fine_tune(tuning, measure)
    assert abs(finer.cents) < abs(tuning.cents) - 4 and finer.voice["op1_detune"] < 14
    assert "operator detune moved" in finer.messages[-1]
    assert fine_tune(finer, measure) is finer or abs(fine_tune(finer, measure).cents) <= abs(finer.cents)
    in_tune = tune(Voice.init(), C4, measure)
    assert fine_tune(in_tune, measure) is in_tune  # within 3 cents: left alone


def test_a_voice_the_two_trackers_hear_an_octave_apart_is_not_in_tune() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE  # a quiet 65.5 Hz partial under a loud one at 392 Hz, its 6th harmonic
    organ = 0.3 * (0.3 * np.sin(2 * np.pi * 65.5 * t) + np.sin(2 * np.pi * 392.0 * t) + 0.3 * np.sin(2 * np.pi * 784.0 * t))

    def measure(voice: Voice) -> F0Estimate:
        return voice_f0(voice, lambda played, note, velocity: organ)

    tuning = tune(Voice.init(), 65.5, measure)
    assert not tuning.in_tune and tuning.cents is None and "ambiguous" in tuning.pitch


def test_a_voice_heard_apart_as_the_recording_is_in_tune_at_its_partials() -> None:
    from engine.pitch import F0Estimate
    from engine.tuning import heard_alike

    organ = F0Estimate(None, 0.9, 0.9, "unpitched: ambiguous (...)", ambiguous=(130.8, 261.9))  # a sub-octave partial
    assert heard_alike(organ, (65.4, 130.9)).f0_hz == 130.8  # the recording an octave lower, heard apart by an octave
    assert heard_alike(organ, (65.4, 196.2)).f0_hz is None  # heard apart by an octave and a fifth: not alike
    assert heard_alike(organ, None).f0_hz is None  # the recording is heard alike by both: the voice is not
    pitched = F0Estimate(261.6, 1.0, 1.0)
    assert heard_alike(pitched, (65.4, 130.9)) is pitched
