"""CC maps: the default map covers every learnable parameter exactly; the file format round-trips."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from voice_strategies import valid_voices

from bridge.midi.cc_map import (
    DEFAULT_CCS,
    MAPPABLE,
    RESERVED_CCS,
    CcAssignment,
    CcMap,
    cc_value,
    load_cc_map,
    param_value,
    save_cc_map,
)
from bridge.midi.param_stream import ParamStream
from bridge.midi.receiver import Receiver
from models.errors import ConfigError
from models.params import BY_NAME, LEARNABLE, TRANSPOSE_INDEX, ParamSpec
from models.voice import Voice


def test_default_map_covers_the_144_learnable_parameters_and_transpose_on_two_channels() -> None:
    cc_map = CcMap.default()
    assert {spec.index for spec in LEARNABLE} | {TRANSPOSE_INDEX} == cc_map.carried
    assert len(LEARNABLE) == 144 and len(cc_map) == 145 and cc_map.unmapped == ()
    assert {a.channel for a in cc_map} == {0, 1}
    assert not {a.cc for a in cc_map} & set(RESERVED_CCS)
    assert cc_map.by_param[BY_NAME["op1_eg_rate1"].index] == CcAssignment(BY_NAME["op1_eg_rate1"].index, 0, DEFAULT_CCS[0])
    assert cc_map.by_param[BY_NAME["op4_eg_rate1"].index].channel == 1


@pytest.mark.parametrize("spec", MAPPABLE, ids=[spec.name for spec in MAPPABLE])
def test_seven_bit_scaling_is_exact_over_the_full_range(spec: ParamSpec) -> None:
    ccs = [cc_value(spec, value) for value in range(spec.lo, spec.hi + 1)]
    assert len(set(ccs)) == spec.steps, "each value has its own CC value"
    assert all(0 <= cc <= 127 for cc in ccs)
    assert [param_value(spec, cc) for cc in ccs] == list(range(spec.lo, spec.hi + 1))
    assert ccs[0] == 0 and ccs[-1] == 127


def test_encode_and_decode_are_inverse_for_every_parameter_and_value() -> None:
    cc_map = CcMap.default(first_channel=5)
    for spec in MAPPABLE:
        for value in range(spec.lo, spec.hi + 1):
            message = cc_map.encode(spec.index, value)
            assert message[0] & 0xF0 == 0xB0 and len(message) == 3
            assert cc_map.decode(message[0] & 0x0F, message[1], message[2]) == (spec.index, value)
    assert cc_map.decode(0, 3, 64) is None, "channel 1 is not used by a map starting on channel 6"


@settings(max_examples=40, deadline=None)
@given(a=valid_voices, b=valid_voices)
def test_cc_stream_a_to_b_through_a_receiver_ends_on_b_but_the_name(a: Voice, b: Voice) -> None:
    cc_map = CcMap.default()
    receiver = Receiver(voice=a, cc_map=cc_map)
    stream = ParamStream(encoder=cc_map, synth_voice=a)
    stream.update(b)
    for message in stream.take(0.0):
        receiver.feed(message)
    assert receiver.voice.values == b.values[:145] + a.values[145:], "every parameter but the name"
    assert stream.uncarried <= set(range(145, 155)), "only the name cannot travel as CCs"


def test_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "map.toml"
    save_cc_map(path, CcMap.default(first_channel=2))
    loaded = load_cc_map(path)
    assert list(loaded) == list(CcMap.default(first_channel=2))
    assert "op1_eg_rate1 = { channel = 3, cc = 3 }" in path.read_text()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("format = 1\n[params]\nalgorithm = { channel = 1, cc = 64 }\n", "CC 64 is sustain pedal"),
        ("format = 1\n[params]\nalgorithm = { channel = 17, cc = 3 }\n", "channel 17 out of range 1..16"),
        ("format = 1\n[params]\nalgorithm = { channel = 1, cc = 3 }\nfeedback = { channel = 1, cc = 3 }\n",
         "channel 1 CC 3 assigned twice"),
        ("format = 1\n[params]\nname1 = { channel = 1, cc = 3 }\n", "has no Dexed host control"),
        ("format = 1\n[params]\nalgoritm = { channel = 1, cc = 3 }\n", "unknown parameter 'algoritm'"),
        ("format = 1\n[params]\nalgorithm = { channel = 1 }\n", "expected { channel = 1-16, cc = 0-127 }"),
        ("format = 2\n[params]\n", "format = 2, expected 1"),
        ("format = 1\n", "no [params] table"),
        ("format = [\n", "not a TOML CC map"),
    ],
)
def test_bad_files_are_refused_naming_file_and_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="bad.toml") as caught:
        load_cc_map(path)
    assert message in str(caught.value)


def test_partial_map_lists_what_it_leaves_out_and_refuses_to_encode_it() -> None:
    algorithm = BY_NAME["algorithm"].index
    cc_map = CcMap([CcAssignment(algorithm, 0, 3)])
    assert len(cc_map.unmapped) == 144
    with pytest.raises(ConfigError, match="'feedback' has no CC in this map"):
        cc_map.encode(BY_NAME["feedback"].index, 3)
    with pytest.raises(ConfigError, match="range 0..31"):
        cc_map.encode(algorithm, 32)
