"""The core voice model: the VCED table, Dexed host orders, Voice validation, VMEM packing.

The DX7 manual's VCED layout is the oracle for the table; dexed-py's
``Patch`` is the independent second implementation for packing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from dexed import Patch
from hypothesis import given
from hypothesis import strategies as st
from voice_strategies import valid_voices

from models.errors import DexbridgeError, InvalidVoiceError
from models.packing import (
    BANK_PAYLOAD,
    PACKED_SIZE,
    pack_bank,
    pack_voice,
    unpack_bank,
    unpack_voice,
)
from models.params import (
    BY_INDEX,
    BY_NAME,
    CATEGORICAL,
    DEXED_HOST_ORDER,
    DEXED_NAME_TO_VCED,
    LEARNABLE,
    NUMERICAL,
    PARAMS,
    VOICE_PARAMS,
    Kind,
    ParamSpec,
    dexed_host_index,
    from_host_value,
    to_host_value,
)
from models.voice import Clamp, ClampReport, Voice

# The DX7 manual: the 21 operator fields in VCED order with their largest value.
OPERATOR_RANGES = (
    ("eg_rate1", 99), ("eg_rate2", 99), ("eg_rate3", 99), ("eg_rate4", 99),
    ("eg_level1", 99), ("eg_level2", 99), ("eg_level3", 99), ("eg_level4", 99),
    ("break_point", 99), ("left_depth", 99), ("right_depth", 99), ("left_curve", 3), ("right_curve", 3),
    ("rate_scaling", 7), ("amp_mod_sens", 3), ("key_vel_sens", 7), ("output_level", 99),
    ("osc_mode", 1), ("coarse", 31), ("fine", 99), ("detune", 14),
)
GLOBAL_RANGES = {
    126: 99, 133: 99, 134: 31, 135: 7, 136: 1, 137: 99, 140: 99, 141: 1, 142: 5, 143: 7, 144: 48,
}
CATEGORICAL_NAMES = {"algorithm", "osc_key_sync", "lfo_sync", "lfo_wave"} | {
    f"op{op}_{field}" for op in range(1, 7) for field in ("osc_mode", "left_curve", "right_curve")
}
DEXED_FX_CONTROLS = {"Cutoff", "Resonance", "Output", "MonoMode", "MASTER TUNE ADJ"}


@pytest.fixture(scope="module")
def brass_payload(brass_path: Path) -> bytes:
    """The 4096-byte payload of the bundled bank (a 4104-byte bulk dump)."""
    payload = brass_path.read_bytes()[6:4102]
    assert len(payload) == BANK_PAYLOAD
    return payload


def dexed_unpack(packed: bytes) -> bytes:
    return Patch.from_packed(packed).to_sysex()[:155]


# --- the parameter table ----------------------------------------------------------------------


def test_table_shape_and_counts() -> None:
    assert len(PARAMS) == 156
    assert [p.index for p in PARAMS] == list(range(156))
    assert len(VOICE_PARAMS) == 155
    assert (len(LEARNABLE), len(NUMERICAL), len(CATEGORICAL)) == (144, 122, 22)
    assert [p.index for p in LEARNABLE] == list(range(144))
    assert {p.name for p in CATEGORICAL} == CATEGORICAL_NAMES
    assert len(BY_NAME) == 156
    assert all(BY_INDEX[p.index] is p and BY_NAME[p.name] is p for p in PARAMS)


@pytest.mark.parametrize("op", range(1, 7))
def test_operator_blocks_run_op6_first(op: int) -> None:
    base = (6 - op) * 21
    for offset, (field, hi) in enumerate(OPERATOR_RANGES):
        spec = PARAMS[base + offset]
        assert (spec.name, spec.op, spec.group, spec.lo, spec.hi) == (f"op{op}_{field}", op, f"op{op}", 0, hi)


def test_global_block_name_transpose_and_switch() -> None:
    assert PARAMS[0].name == "op6_eg_rate1"
    assert {i: BY_INDEX[i].hi for i in GLOBAL_RANGES} == GLOBAL_RANGES
    assert BY_NAME["algorithm"].index == 134
    transpose = PARAMS[144]
    assert (transpose.name, transpose.lo, transpose.hi, transpose.kind) == ("transpose", 0, 48, Kind.TRANSPOSE)
    assert not transpose.learnable
    assert [(p.index, p.kind, p.lo, p.hi) for p in PARAMS if p.kind is Kind.NAME] == [
        (i, Kind.NAME, 0, 127) for i in range(145, 155)
    ]
    switch = PARAMS[155]
    assert (switch.name, switch.kind, switch.lo, switch.hi) == ("op_switch", Kind.SWITCH, 0, 63)


def test_describe_names_value_and_range() -> None:
    assert BY_NAME["algorithm"].describe(40) == "param 134 ALGORITHM = 40, range 0..31"


# --- Dexed host parameters --------------------------------------------------------------------


def test_dexed_host_orders_by_version() -> None:
    new, old = DEXED_HOST_ORDER["0.9.8"], DEXED_HOST_ORDER["0.9.7"]
    assert (len(new), len(old)) == (156, 155)
    assert new[3] == "MonoMode" and "MonoMode" not in old
    assert new[:3] + new[4:] == old
    assert len(set(new)) == len(new)
    assert dexed_host_index("MonoMode") == 3
    assert dexed_host_index("ALGORITHM", "0.9.8") == dexed_host_index("ALGORITHM", "0.9.7") + 1


def test_dexed_host_index_refuses_unknowns() -> None:
    with pytest.raises(KeyError, match=r"unknown Dexed version '0.9.6'; known: \['0.9.7', '0.9.8'\]"):
        dexed_host_index("ALGORITHM", "0.9.6")
    with pytest.raises(KeyError, match="no host parameter named 'ALGO'"):
        dexed_host_index("ALGO")


@pytest.mark.parametrize("version", sorted(DEXED_HOST_ORDER))
def test_every_voice_data_label_maps_to_a_vced_index(version: str) -> None:
    voice_labels = [label for label in DEXED_HOST_ORDER[version] if label not in DEXED_FX_CONTROLS]
    assert set(DEXED_HOST_ORDER[version]) - set(voice_labels) <= DEXED_FX_CONTROLS
    targets = [DEXED_NAME_TO_VCED[label] for label in voice_labels]
    assert sorted(t for t in targets if t != 155) == list(range(145))  # 0-144 each exactly once
    assert targets.count(155) == 6
    for label, index in zip(voice_labels, targets, strict=False):
        assert index == 155 or BY_INDEX[index].dexed_name == label
    assert DEXED_NAME_TO_VCED["OP6 EG RATE 1"] == 0
    assert DEXED_NAME_TO_VCED["OP1 OSC DETUNE"] == 125


@pytest.mark.parametrize("spec", [p for p in PARAMS if p.dexed_name], ids=lambda p: p.name)
def test_host_values_round_trip(spec: ParamSpec) -> None:
    for value in range(spec.lo, spec.hi + 1):
        host = to_host_value(spec, value)
        assert 0.0 <= host <= 1.0
        assert from_host_value(spec, host) == value
        assert from_host_value(spec, float(np.float32(host))) == value  # hosts carry float32
    assert (to_host_value(spec, spec.lo), to_host_value(spec, spec.hi)) == (0.0, 1.0)


# --- Voice ------------------------------------------------------------------------------------


def test_strict_voice_names_each_bad_param() -> None:
    values = list(Voice.init().values)
    values[134], values[20] = 40, -1
    with pytest.raises(InvalidVoiceError) as caught:
        Voice.from_values(values)
    message = str(caught.value)
    assert "param 134 ALGORITHM = 40, range 0..31" in message
    assert "param 20 OP6 OSC DETUNE = -1, range 0..14" in message
    assert isinstance(caught.value, DexbridgeError) and isinstance(caught.value, ValueError)


def test_voice_refuses_wrong_length() -> None:
    with pytest.raises(InvalidVoiceError, match="a voice has 155 VCED values, got 154"):
        Voice.from_values(Voice.init().values[:154])
    with pytest.raises(InvalidVoiceError, match="got 156"):
        Voice.clamped(Voice.init().values + (0,))


def test_clamped_reports_each_clamp() -> None:
    values = list(Voice.init().values)
    values[0], values[142], values[150] = 120, 9, -3
    voice, report = Voice.clamped(values)
    assert report.clamps == (
        Clamp(0, "op6_eg_rate1", 120, 99),
        Clamp(142, "lfo_wave", 9, 5),
        Clamp(150, "name6", -3, 0),
    )
    assert (voice[0], voice["lfo_wave"], voice[150]) == (99, 5, 0)
    assert str(report) == (
        "param 0 OP6 EG RATE 1 = 120 -> 99; param 142 LFO WAVE = 9 -> 5; param 150 VOICE NAME 6 = -3 -> 0"
    )


def test_clamped_clean_values_report_nothing() -> None:
    voice, report = Voice.clamped(Voice.init().values)
    assert voice == Voice.init()
    assert not report and report == ClampReport()
    assert str(report) == "no clamping"


def test_init_voice_and_helpers() -> None:
    voice = Voice.init()
    assert voice.name == "INIT VOICE"
    levels = (voice["op1_output_level"], voice["op2_output_level"])
    assert (voice["transpose"], voice["algorithm"], levels) == (24, 0, (99, 0))
    assert voice.vced == bytes(voice.values) and len(voice.vced) == 155
    renamed = voice.with_name("BRASS")
    assert renamed.name == "BRASS     "
    assert voice.diff(renamed) == {150: 32, 151: 32, 152: 32, 153: 32, 154: 32} | {
        145 + i: ord(c) for i, c in enumerate("BRASS")
    }
    assert voice.replace({134: 31})["algorithm"] == 31
    with pytest.raises(InvalidVoiceError, match="ALGORITHM = 32"):
        voice.replace({134: 32})


# --- VMEM packing -----------------------------------------------------------------------------


@given(voice=valid_voices)
def test_pack_unpack_round_trip(voice: Voice) -> None:
    packed = pack_voice(voice)
    assert len(packed) == PACKED_SIZE
    assert unpack_voice(packed) == (voice, ClampReport())


@given(voice=valid_voices)
def test_pack_equals_dexed_py(voice: Voice) -> None:
    assert pack_voice(voice) == Patch.from_sysex(voice.vced + b"\x3f").to_packed()


@given(packed=st.binary(min_size=PACKED_SIZE, max_size=PACKED_SIZE))
def test_unpack_of_any_record_equals_dexed_py(packed: bytes) -> None:
    voice, _ = unpack_voice(packed)
    assert voice.vced == dexed_unpack(packed)


def test_brass_bank_unpacks_as_dexed_py(brass_payload: bytes) -> None:
    unpacked = unpack_bank(brass_payload)
    assert len(unpacked) == 32
    for slot, (voice, report) in enumerate(unpacked):
        record = brass_payload[slot * PACKED_SIZE : (slot + 1) * PACKED_SIZE]
        assert voice.vced == dexed_unpack(record), f"voice {slot} ({voice.name})"
        assert not report, f"voice {slot}: {report}"
    assert unpacked[0][0].name == "BRASS 1   "
    assert pack_bank([voice for voice, _ in unpacked]) == brass_payload


def test_out_of_range_record_is_reported(brass_payload: bytes) -> None:
    record = bytearray(brass_payload[:PACKED_SIZE])
    record[0] = 127  # OP6 EG rate 1 above 99
    record[12] = (15 << 3) | 7  # OP6 detune 15 above 14, rate scaling 7
    record[102] = 120  # pitch EG rate 1 above 99: Dexed rescales it as 0-255 noise
    voice, report = unpack_voice(bytes(record))
    assert {(c.name, c.got, c.became) for c in report.clamps} == {
        ("op6_eg_rate1", 127, 99),
        ("op6_detune", 15, 14),
        ("pitch_eg_rate1", 120, 46),
    }
    assert voice.vced == dexed_unpack(bytes(record))


def test_packing_refuses_wrong_sizes(brass_payload: bytes) -> None:
    with pytest.raises(ValueError, match="a packed voice is 128 bytes, got 127"):
        unpack_voice(brass_payload[:127])
    with pytest.raises(ValueError, match="a bank payload is 4096 bytes, got 4095"):
        unpack_bank(brass_payload[:-1])
    with pytest.raises(ValueError, match="a bank holds 32 voices, got 31"):
        pack_bank([Voice.init()] * 31)
