"""DX7 SysEx codecs: golden bytes, dexed-py as an independent oracle, round trips, byte soup."""

from __future__ import annotations

from pathlib import Path

import pytest
from dexed import Patch
from hypothesis import given, settings
from hypothesis import strategies as st
from voice_strategies import valid_voices

from bridge.midi.sysex import (
    BankDump,
    DumpRequest,
    ParamChange,
    VoiceDump,
    checksum,
    decode_bank_payload,
    decode_sysex,
    encode_bank_dump,
    encode_dump_request,
    encode_param_change,
    encode_voice_dump,
)
from bridge.midi.sysex_assembler import SysexAssembler
from models.errors import SysexDecodeError, SysexEncodeError
from models.packing import pack_voice
from models.params import BY_NAME, PARAMS
from models.voice import Clamp, ClampReport, Voice

ALL_OPS_ON = bytes([0x3F])  # dexed-py's VCED carries the operator on/off mask as byte 155

# 32 fully random voices are too large an example for hypothesis: cycle up to 4 random ones.
banks = st.lists(valid_voices, min_size=1, max_size=4).map(lambda drawn: (drawn * 32)[:32])
channels = st.integers(0, 15)


def _param_changes() -> st.SearchStrategy[tuple[int, int, int]]:
    return st.sampled_from(PARAMS).flatmap(
        lambda spec: st.tuples(st.just(spec.index), st.integers(spec.lo, spec.hi), channels)
    )


def _with_checksum(message: bytearray) -> bytes:
    message[-2] = checksum(bytes(message[6:-2]))
    return bytes(message)


@pytest.fixture(scope="module")
def brass_bytes(brass_path: Path) -> bytes:
    return brass_path.read_bytes()


@pytest.fixture(scope="module")
def brass_patches(brass_path: Path) -> list[Patch]:
    return Patch.load_bank(str(brass_path))


# --- golden bytes ---------------------------------------------------------------------------


def test_algorithm_32_on_midi_channel_1_is_the_documented_parameter_change() -> None:
    assert encode_param_change(134, 31, channel=0) == bytes.fromhex("F0 43 10 01 06 1F F7")


@pytest.mark.parametrize(
    ("index", "value", "expected"),
    [
        (0, 99, "F0 43 13 00 00 63 F7"),  # OP6 EG rate 1, group byte 0
        (127, 7, "F0 43 13 00 7F 07 F7"),  # last index of group byte 0
        (128, 50, "F0 43 13 01 00 32 F7"),  # first index of group byte 1
        (155, 0b101010, "F0 43 13 01 1B 2A F7"),  # operator on/off mask
    ],
)
def test_parameter_change_group_byte_splits_at_128(index: int, value: int, expected: str) -> None:
    assert encode_param_change(index, value, channel=3) == bytes.fromhex(expected)


def test_dump_requests_golden() -> None:
    assert encode_dump_request("voice") == bytes.fromhex("F0 43 20 00 F7")
    assert encode_dump_request("bank", channel=15) == bytes.fromhex("F0 43 2F 09 F7")


def test_init_voice_dump_matches_a_hand_built_dump() -> None:
    operator = [99, 99, 99, 99, 99, 99, 99, 0, 39, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 7]
    op1 = operator[:16] + [99] + operator[17:]  # only OP1 sounds, at output level 99
    globals_ = [99, 99, 99, 99, 50, 50, 50, 50, 0, 0, 1, 35, 0, 0, 0, 0, 0, 0, 24]
    data = bytes(operator * 5 + op1 + globals_) + b"INIT VOICE"
    assert len(data) == 155 and (-sum(data)) & 0x7F == 0x6B
    expected = bytes.fromhex("F0 43 00 00 01 1B") + data + bytes([0x6B, 0xF7])
    assert encode_voice_dump(Voice.init()) == expected
    assert encode_voice_dump(Voice.init(), channel=9)[2] == 0x09


def test_bank_dump_framing(brass_bytes: bytes) -> None:
    voices = decode_sysex(brass_bytes).voices
    dump = encode_bank_dump(voices, channel=4)
    assert len(dump) == 4104
    assert dump[:6] == bytes.fromhex("F0 43 04 09 20 00") and dump[-1] == 0xF7
    assert dump[-2] == (-sum(dump[6:-2])) & 0x7F


# --- dexed-py as independent oracle ----------------------------------------------------------


def test_brass_bank_agrees_with_dexed(brass_bytes: bytes, brass_patches: list[Patch]) -> None:
    decoded = decode_sysex(brass_bytes)
    assert isinstance(decoded, BankDump) and decoded.checksum_ok and not any(decoded.reports)
    assert encode_bank_dump(decoded.voices) == brass_bytes
    assert encode_bank_dump(decoded.voices)[6:-2] == b"".join(p.to_packed() for p in brass_patches)
    for voice, patch in zip(decoded.voices, brass_patches, strict=True):
        assert encode_voice_dump(voice)[6:161] == patch.to_sysex()[:155]
        assert voice.name == patch.name and voice["algorithm"] == patch.algorithm


@settings(max_examples=60, deadline=None)
@given(voice=valid_voices)
def test_random_voice_dump_agrees_with_dexed(voice: Voice) -> None:
    data = encode_voice_dump(voice)[6:161]
    assert data == Patch.from_packed(pack_voice(voice)).to_sysex()[:155]
    assert Patch.from_sysex(data + ALL_OPS_ON).to_packed() == pack_voice(voice)


@settings(max_examples=10, deadline=None)
@given(voices=banks)
def test_random_bank_payload_agrees_with_dexed(voices: list[Voice]) -> None:
    payload = encode_bank_dump(voices)[6:-2]
    assert payload == b"".join(Patch.from_sysex(v.vced + ALL_OPS_ON).to_packed() for v in voices)


# --- round trips ----------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(voice=valid_voices, channel=channels)
def test_voice_dump_round_trip(voice: Voice, channel: int) -> None:
    assert decode_sysex(encode_voice_dump(voice, channel)) == VoiceDump(channel, voice)


@settings(max_examples=10, deadline=None)
@given(voices=banks, channel=channels)
def test_bank_dump_round_trip(voices: list[Voice], channel: int) -> None:
    decoded = decode_sysex(encode_bank_dump(voices, channel))
    assert decoded == BankDump(channel, tuple(voices), (ClampReport(),) * 32)


@settings(max_examples=200, deadline=None)
@given(change=_param_changes())
def test_param_change_round_trip(change: tuple[int, int, int]) -> None:
    index, value, channel = change
    assert decode_sysex(encode_param_change(index, value, channel)) == ParamChange(channel, index, value)


@pytest.mark.parametrize("kind", ["voice", "bank"])
@pytest.mark.parametrize("channel", [0, 7, 15])
def test_dump_request_round_trip(kind: str, channel: int) -> None:
    assert decode_sysex(encode_dump_request(kind, channel)) == DumpRequest(channel, kind)  # type: ignore[arg-type]


# --- encoder argument errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "text"),
    [
        (lambda: encode_param_change(134, 32), "param 134 ALGORITHM = 32, range 0..31"),
        (lambda: encode_param_change(156, 0), "parameter 156 out of range 0..155"),
        (lambda: encode_param_change(0, 0, channel=16), "MIDI channel 16 out of range 0..15"),
        (lambda: encode_voice_dump(Voice.init(), channel=-1), "MIDI channel -1 out of range 0..15"),
        (lambda: encode_bank_dump([Voice.init()] * 31), "a bank dump holds 32 voices, got 31"),
        (lambda: encode_dump_request("program"), "dump request kind 'program' unknown"),  # type: ignore[arg-type]
    ],
)
def test_encoders_refuse_what_no_message_can_carry(call: object, text: str) -> None:
    with pytest.raises(SysexEncodeError, match=text):
        call()  # type: ignore[operator]


# --- strict and lenient decoding -------------------------------------------------------------

INIT_DUMP = encode_voice_dump(Voice.init())
ALGORITHM_AT = 6 + BY_NAME["algorithm"].index


BAD_ALGORITHM_DUMP = _with_checksum(bytearray(INIT_DUMP[:ALGORITHM_AT] + b"\x28" + INIT_DUMP[ALGORITHM_AT + 1 :]))
MALFORMED = {
    "empty": (b"", "header", "starts with nothing, expected F0"),
    "no-F0": (bytes.fromhex("43 10 01 06 1F F7"), "header", "starts with 0x43, expected F0"),
    "roland": (bytes.fromhex("F0 41 10 01 06 1F F7"), "header", "manufacturer ID 0x41, expected 0x43"),
    "sub-status": (bytes.fromhex("F0 43 30 01 06 1F F7"), "header", "byte 2 = 0x30"),
    "dump-format": (bytes.fromhex("F0 43 00 05 01 1B F7"), "header", "dump format 5 unknown"),
    "request-format": (bytes.fromhex("F0 43 20 03 F7"), "header", "dump request format 3 unknown"),
    "truncated": (INIT_DUMP[:100], "terminator", "SysEx of 100 bytes ends with 0x00, expected F7"),
    "short-dump": (INIT_DUMP[:-3] + INIT_DUMP[-2:], "length", "a voice dump is 163 bytes, got 162"),
    "tiny": (bytes.fromhex("F0 43 F7"), "length", "shorter than any DX7 message"),
    "long-param": (bytes.fromhex("F0 43 10 01 06 1F 00 F7"), "length", "a parameter change is 7 bytes, got 8"),
    "byte-count": (INIT_DUMP[:4] + b"\x01\x1c" + INIT_DUMP[6:], "length", "declares 156 data bytes, expected 155"),
    "checksum": (INIT_DUMP[:-2] + b"\x12\xf7", "checksum", "voice dump checksum 0x12, computed 0x6B"),
    "data": (INIT_DUMP[:50] + b"\x80" + INIT_DUMP[51:], "data", "byte 0x80 at offset 50 has its high bit set"),
    "function-group": (bytes.fromhex("F0 43 10 08 00 00 F7"), "group", "parameter group 2"),
    "index": (bytes.fromhex("F0 43 10 01 1C 00 F7"), "range", "parameter 156 out of range 0..155"),
    "param-value": (bytes.fromhex("F0 43 10 01 06 20 F7"), "range", "param 134 ALGORITHM = 32, range 0..31"),
    "voice-value": (BAD_ALGORITHM_DUMP, "range", "param 134 ALGORITHM = 40, range 0..31"),
}


@pytest.mark.parametrize(("message", "field", "text"), list(MALFORMED.values()), ids=list(MALFORMED))
def test_strict_errors_name_the_problem(message: bytes, field: str, text: str) -> None:
    with pytest.raises(SysexDecodeError, match=text) as caught:
        decode_sysex(message)
    assert caught.value.field == field


def test_error_offsets_point_at_the_problem() -> None:
    with pytest.raises(SysexDecodeError) as bad_byte:
        decode_sysex(INIT_DUMP[:50] + b"\x80" + INIT_DUMP[51:])
    assert bad_byte.value.offset == 50
    with pytest.raises(SysexDecodeError) as bad_sum:
        decode_sysex(INIT_DUMP[:-2] + b"\x12\xf7")
    assert bad_sum.value.offset == 161


def test_lenient_clamps_and_reports_out_of_range_voice_values() -> None:
    decoded = decode_sysex(BAD_ALGORITHM_DUMP, strict=False)
    assert isinstance(decoded, VoiceDump) and decoded.checksum_ok
    assert decoded.voice["algorithm"] == 31
    assert decoded.report == ClampReport((Clamp(134, "algorithm", 40, 31),))


def test_lenient_clamps_and_reports_a_parameter_change() -> None:
    decoded = decode_sysex(bytes.fromhex("F0 43 10 01 06 20 F7"), strict=False)
    assert decoded == ParamChange(0, 134, 31, ClampReport((Clamp(134, "algorithm", 32, 31),)))


def test_lenient_flags_a_bad_checksum(brass_bytes: bytes) -> None:
    voice = decode_sysex(INIT_DUMP[:-2] + b"\x12\xf7", strict=False)
    assert isinstance(voice, VoiceDump) and not voice.checksum_ok and voice.voice == Voice.init()
    bank = decode_sysex(brass_bytes[:-2] + bytes([(brass_bytes[-2] + 1) & 0x7F, 0xF7]), strict=False)
    assert isinstance(bank, BankDump) and not bank.checksum_ok and len(bank.voices) == 32


@pytest.mark.parametrize("strict", [True, False])
def test_lenient_still_refuses_what_it_cannot_interpret(strict: bool) -> None:
    for message in (INIT_DUMP[:100], INIT_DUMP[:-3] + INIT_DUMP[-2:], b"\xf0\x41" + INIT_DUMP[2:]):
        with pytest.raises(SysexDecodeError):
            decode_sysex(message, strict=strict)


def test_bank_voice_out_of_range_strict_raises_lenient_reports(brass_bytes: bytes) -> None:
    corrupt = bytearray(brass_bytes)
    corrupt[6 + 5 * 128] = 120  # voice 5, OP6 EG rate 1: 0..99
    message = _with_checksum(corrupt)
    text = "bank voice 5 'BRASS 5THS': param 0 OP6 EG RATE 1 = 120, range 0..99"
    with pytest.raises(SysexDecodeError, match=text) as caught:
        decode_sysex(message)
    assert (caught.value.field, caught.value.offset) == ("range", 6 + 5 * 128)
    decoded = decode_sysex(message, strict=False)
    assert isinstance(decoded, BankDump) and decoded.voices[5]["op6_eg_rate1"] == 99
    assert decoded.reports[5] == ClampReport((Clamp(0, "op6_eg_rate1", 120, 99),))


def test_raw_bank_payload_refuses_high_bit_bytes_and_wrong_size(brass_bytes: bytes) -> None:
    payload = bytearray(brass_bytes[6:-2])
    payload[1000] = 0xC0
    with pytest.raises(SysexDecodeError, match="byte 0xC0 at offset 1000") as caught:
        decode_bank_payload(bytes(payload), strict=False)
    assert caught.value.field == "data"
    with pytest.raises(SysexDecodeError, match="a bank holds 4096 data bytes, got 4095"):
        decode_bank_payload(brass_bytes[6:-3])


# --- byte soup: a typed error or a valid result, never another exception ---------------------

VALID_MESSAGES = [
    INIT_DUMP,
    encode_param_change(134, 31),
    encode_param_change(155, 63, channel=2),
    encode_dump_request("voice"),
    encode_dump_request("bank", channel=5),
]


@st.composite
def _mutated_messages(draw: st.DrawFn) -> bytes:
    message = bytearray(draw(st.sampled_from(VALID_MESSAGES)))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(message)))
        action = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        if action == "replace" and at < len(message):
            message[at] = draw(st.integers(0, 255))
        elif action == "insert":
            message.insert(at, draw(st.integers(0, 255)))
        elif action == "delete" and at < len(message):
            del message[at]
        elif action == "truncate":
            del message[at:]
    return bytes(message)


byte_soup = st.one_of(
    st.binary(max_size=300), _mutated_messages(), st.binary().map(lambda body: b"\xf0\x43" + body + b"\xf7")
)


@settings(max_examples=400, deadline=None)
@given(data=byte_soup, strict=st.booleans())
def test_decoder_on_byte_soup_raises_only_sysex_decode_error(data: bytes, strict: bool) -> None:
    try:
        decoded = decode_sysex(data, strict=strict)
    except SysexDecodeError as exc:
        assert exc.field in {"header", "terminator", "data", "length", "checksum", "group", "range"}
        return
    assert isinstance(decoded, VoiceDump | BankDump | ParamChange | DumpRequest)


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(byte_soup, max_size=8))
def test_assembler_on_byte_soup_returns_only_well_framed_messages(chunks: list[bytes]) -> None:
    assembler = SysexAssembler(max_size=200)
    for chunk in chunks:
        for message in assembler.feed(chunk):
            assert message[0] == 0xF0 and message[-1] == 0xF7 and len(message) <= 200
            assert all(b < 0x80 for b in message[1:-1])


@settings(max_examples=100, deadline=None)
@given(
    picks=st.lists(st.sampled_from(VALID_MESSAGES), min_size=1, max_size=6),
    cuts=st.lists(st.integers(0, 2000), max_size=10),
    realtime=st.lists(st.tuples(st.integers(0, 2000), st.sampled_from([0xF8, 0xFA, 0xFE, 0xFF])), max_size=5),
)
def test_assembler_restores_messages_cut_anywhere_with_realtime_bytes(
    picks: list[bytes], cuts: list[int], realtime: list[tuple[int, int]]
) -> None:
    stream = bytearray(b"".join(picks))
    for at, byte in sorted(realtime, reverse=True):
        stream.insert(min(at, len(stream)), byte)
    bounds = sorted({0, len(stream), *(min(c, len(stream)) for c in cuts)})
    assembler = SysexAssembler()
    out = [m for start, end in zip(bounds, bounds[1:], strict=False) for m in assembler.feed(bytes(stream[start:end]))]
    assert out == picks
    assert assembler.errors == [] and assembler.discarded == 0


def test_assembler_reassembles_a_bank_fed_byte_by_byte(brass_bytes: bytes) -> None:
    assembler = SysexAssembler()
    out = [m for b in brass_bytes for m in assembler.feed([b])]
    assert out == [brass_bytes]


def test_assembler_discards_and_counts_bytes_outside_sysex() -> None:
    assembler = SysexAssembler()
    out = assembler.feed(bytes.fromhex("01 02 90 3C 64 F7") + encode_dump_request("voice"))
    assert out == [encode_dump_request("voice")]
    assert assembler.discarded == 6 and assembler.errors == []


def test_assembler_aborts_on_status_byte_or_new_f0_and_records_it() -> None:
    assembler = SysexAssembler()
    out = assembler.feed(bytes.fromhex("F0 43 10 90 3C 64 F0 43 10 F0 43 20 00 F7"))
    assert out == [bytes.fromhex("F0 43 20 00 F7")]
    assert assembler.take_errors() == [
        "status byte 0x90 inside an unterminated SysEx: 3 bytes dropped",
        "status byte 0xF0 inside an unterminated SysEx: 3 bytes dropped",
    ]
    assert assembler.errors == []


def test_assembler_caps_message_size(brass_bytes: bytes) -> None:
    assembler = SysexAssembler(max_size=4104)
    assert assembler.feed(brass_bytes) == [brass_bytes]
    small = SysexAssembler(max_size=4000)
    assert small.feed(brass_bytes + INIT_DUMP) == [INIT_DUMP]
    assert small.errors == ["SysEx longer than 4000 bytes: 4103 bytes dropped"]
