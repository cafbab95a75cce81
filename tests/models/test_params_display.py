"""Values as people read them on the DX7 and in Dexed, from the one parameter table."""

from __future__ import annotations

import pytest

from models.params import (
    BY_NAME,
    CURVES,
    LFO_WAVES,
    OCTAVES,
    PARAMS,
    VOICE_SIZE,
    describe_change,
    display_value,
    note_name,
    operator_frequency,
    transpose_note,
)
from models.voice import Voice


def test_notes_are_named_in_yamaha_octaves() -> None:
    assert OCTAVES == "Yamaha octaves: C3 = middle C"
    assert [note_name(n) for n in (60, 69, 57, 21, 108, 120)] == ["C3", "A3", "A2", "A-1", "C7", "C8"]
    # transpose: 0 = C1 (two octaves down), 24 = C3 (no shift), 48 = C5, as the DX7's display
    assert [transpose_note(v) for v in (0, 12, 24, 33, 48)] == ["C1", "C2", "C3", "A3", "C5"]


def test_operator_frequency_as_the_panel_shows_it() -> None:
    assert operator_frequency(False, 0, 0) == "ratio 0.50"  # coarse 0 is a half
    assert operator_frequency(False, 1, 41) == "ratio 1.41"
    assert operator_frequency(False, 31, 99) == "ratio 61.69"
    assert [operator_frequency(True, c, 0) for c in range(4)] == ["fixed 1 Hz", "fixed 10 Hz", "fixed 100 Hz", "fixed 1000 Hz"]
    assert operator_frequency(True, 5, 99) == "fixed 97.72 Hz"  # coarse counts modulo 4 in fixed mode


def test_display_values_of_the_init_voice() -> None:
    voice = Voice.init()
    shown = {spec.name: display_value(spec, voice[spec.index], voice.vced) for spec in PARAMS[:VOICE_SIZE]}
    assert shown["algorithm"] == 1 and voice["algorithm"] == 0
    assert shown["op1_detune"] == 0 and voice["op1_detune"] == 7
    assert shown["transpose"] == "C3" and shown["op1_break_point"] == "C3"  # break point 39 = C3
    assert shown["op1_coarse"] == shown["op1_fine"] == "ratio 1.00"
    assert shown["op1_osc_mode"] == "ratio" and shown["lfo_wave"] == LFO_WAVES[0] and shown["op1_left_curve"] == CURVES[0]
    assert shown["osc_key_sync"] in ("off", "on") and shown["feedback"] == voice["feedback"]
    assert shown["op1_eg_rate1"] == 99  # rates and levels are shown as stored


def test_coarse_and_fine_follow_the_operators_mode() -> None:
    voice = Voice.init().replace({BY_NAME["op2_osc_mode"].index: 1, BY_NAME["op2_coarse"].index: 2,
                                  BY_NAME["op2_fine"].index: 50})
    assert display_value(BY_NAME["op2_fine"], 50, voice.vced) == "fixed 316.2 Hz"
    assert display_value(BY_NAME["op2_coarse"], 2) == 2  # without the voice: the stored value


@pytest.mark.parametrize(("name", "value", "text"), [
    ("algorithm", 17, "ALGORITHM = 18 (VCED 17)"),
    ("op1_detune", 4, "OP1 OSC DETUNE = -3 (VCED 4)"),
    ("transpose", 36, "TRANSPOSE = C4 (VCED 36)"),
    ("op3_eg_rate1", 99, "OP3 EG RATE 1 = 99"),
    ("lfo_wave", 4, "LFO WAVE = SINE (VCED 4)"),
])
def test_a_change_in_words(name: str, value: int, text: str) -> None:
    assert describe_change(BY_NAME[name], value) == text
