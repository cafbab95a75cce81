"""Receiver: each DX7 message does to the held voice what Dexed v1.0 does, whatever the chunking."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from voice_strategies import valid_voices

from bridge.midi.cc_map import CcMap
from bridge.midi.receiver import ALL_OPERATORS_ON, Receiver, ReceiverError
from bridge.midi.sysex import decode_sysex, encode_bank_dump, encode_dump_request, encode_param_change, encode_voice_dump
from models.errors import DexbridgeError, SysexDecodeError
from models.params import BY_NAME
from models.voice import Voice

INIT = Voice.init()


def test_voice_dump_replaces_the_voice_turns_every_operator_on_and_cuts_notes() -> None:
    receiver = Receiver()
    receiver.feed(encode_param_change(155, 0b000001))
    voice = INIT.replace({134: 17}).with_name("DUMPED")
    [result] = receiver.feed(encode_voice_dump(voice, channel=9))  # Dexed ignores the channel
    assert (result.kind, result.cuts_notes) == ("voice", True)
    assert receiver.voice == voice and receiver.op_switch == ALL_OPERATORS_ON


def test_voice_dump_with_a_wrong_checksum_is_loaded_anyway_as_dexed_does() -> None:
    dump = bytearray(encode_voice_dump(INIT.replace({0: 1})))
    dump[-2] ^= 0x01
    receiver = Receiver()
    [result] = receiver.feed(bytes(dump))
    assert receiver.voice == INIT.replace({0: 1}) and "checksum" in result.detail


def test_bank_dump_loads_the_bank_and_program_0_and_program_change_picks_a_voice(brass_path: Path) -> None:
    bank = brass_path.read_bytes()
    voices = decode_sysex(bank).voices
    receiver = Receiver()
    [result] = receiver.feed(bank)
    assert (result.kind, result.cuts_notes) == ("bank", True)
    assert receiver.bank == voices and receiver.voice == voices[0]
    [result] = receiver.feed(bytes([0xC0, 5]))
    assert (result.kind, receiver.program, receiver.voice) == ("program", 5, voices[5])
    receiver.feed(bytes([0xC3, 100]))
    assert (receiver.program, receiver.voice) == (31, voices[31]), "Dexed clamps the program number to 31"


def test_bank_dump_with_a_wrong_checksum_is_refused_as_dexed_does(brass_path: Path) -> None:
    bank = bytearray(brass_path.read_bytes())
    bank[-2] ^= 0x01
    receiver = Receiver()
    [result] = receiver.feed(bytes(bank))
    assert result.kind == "ignored" and receiver.voice == INIT


def test_parameter_changes_write_one_value_and_155_sets_the_operator_mask() -> None:
    receiver = Receiver()
    assert receiver.feed(encode_param_change(134, 31, channel=4))[0].index == 134
    receiver.feed(encode_param_change(155, 0b101010))
    assert receiver.voice == INIT.replace({134: 31}) and receiver.op_switch == 0b101010
    assert not receiver.feed(encode_param_change(0, 50))[0].cuts_notes, "heard from the next note-on"


def test_a_group_2_change_lands_on_a_voice_parameter_which_is_why_we_never_send_one() -> None:
    receiver = Receiver()
    receiver.feed(bytes([0xF0, 0x43, 0x10, 0x08, 0x03, 0x05, 0xF7]))  # function parameter 3 = 5
    assert receiver.voice == INIT.replace({3: 5})


def test_out_of_range_values_are_refused_and_nothing_is_applied() -> None:
    receiver = Receiver()
    with pytest.raises(ReceiverError, match="ALGORITHM = 40 -> 31"):
        receiver.feed(bytes([0xF0, 0x43, 0x10, 0x01, 134 - 128, 40, 0xF7]) + encode_param_change(135, 5))
    assert receiver.voice == INIT.replace({135: 5}), "the bad change is not applied, the next one is"
    with pytest.raises(SysexDecodeError):
        receiver.feed(bytes([0xF0, 0x43, 0x00, 0x00, 0x01, 0x1B, 0xF7]))


def test_learned_ccs_set_parameters_others_change_nothing_cc_120_cuts_notes() -> None:
    cc_map = CcMap.default()
    receiver = Receiver(cc_map=cc_map)
    algorithm = BY_NAME["algorithm"].index
    [result] = receiver.feed(cc_map.encode(algorithm, 20))
    assert (result.kind, result.index, receiver.voice[algorithm]) == ("cc", algorithm, 20)
    assert receiver.feed(bytes([0xB5, 3, 127]))[0].kind == "ignored"
    assert receiver.feed(bytes([0xB0, 120, 0]))[0].cuts_notes
    assert Receiver().feed(cc_map.encode(algorithm, 20))[0].kind == "ignored", "nothing learned, nothing changes"
    assert receiver.feed(bytes([0x90, 60, 100, 0x80, 60, 0]))[0].kind == "note"


@settings(max_examples=40, deadline=None)
@given(voice=valid_voices, cuts=st.lists(st.integers(1, 162), max_size=6), realtime=st.sampled_from([b"", b"\xf8", b"\xfe"]))
def test_any_chunking_with_realtime_bytes_gives_the_same_voice(voice: Voice, cuts: list[int], realtime: bytes) -> None:
    dump = encode_voice_dump(voice)
    receiver = Receiver()
    edges = [0, *sorted(set(cuts)), len(dump)]
    results = [r for a, b in zip(edges, edges[1:], strict=False) for r in receiver.feed(realtime + dump[a:b])]
    assert [r.kind for r in results] == ["voice"] and receiver.voice == voice


def test_a_sysex_cut_short_is_dropped_and_reported_and_the_interrupting_message_applies() -> None:
    receiver = Receiver(bank=[INIT.replace({0: n}) for n in range(32)])
    dump = encode_voice_dump(INIT.replace({1: 1}))
    results = receiver.feed(dump[:50] + bytes([0xC0, 7]) + encode_dump_request("voice"))
    assert [r.kind for r in results] == ["program", "ignored"]
    assert receiver.voice == INIT.replace({0: 7})
    assert receiver.take_errors() == ["status byte 0xC0 inside an unterminated SysEx: 50 bytes dropped"]


def test_bank_size_is_checked() -> None:
    with pytest.raises(ValueError, match="a bank holds 32 voices, got 2"):
        Receiver(bank=[INIT, INIT])
    assert len(encode_bank_dump([INIT] * 32)) == 4104


@settings(max_examples=200, deadline=None)
@given(soup=st.lists(st.one_of(st.binary(max_size=40), st.sampled_from([encode_voice_dump(INIT), encode_param_change(3, 9),
                                                                        b"\xf0\x43\x10", b"\xf7", b"\xb0\x03"])), max_size=8))
def test_byte_soup_gives_a_typed_error_or_a_result_never_a_crash_or_an_invalid_voice(soup: list[bytes]) -> None:
    receiver = Receiver(cc_map=CcMap.default())
    for chunk in soup:
        with contextlib.suppress(DexbridgeError):
            receiver.feed(chunk)
        assert isinstance(receiver.voice, Voice) and 0 <= receiver.op_switch <= ALL_OPERATORS_ON
