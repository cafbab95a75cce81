"""DX7 SysEx framing: voice and bank dumps, parameter changes, dump requests (the DX7 manual's formats).

Pure functions over bytes: no ports, files or logging. The voice's own byte layout lives in
:mod:`models.packing`; this module adds the MIDI framing around it. Layouts from the DX7 owner's
manual ("MIDI data format") and Dexed ``Source/SysexComm.cpp``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from models.errors import SysexDecodeError, SysexEncodeError
from models.packing import (
    BANK_PAYLOAD,
    BANK_VOICES,
    PACKED_SIZE,
    pack_bank,
    unpack_voice,
)
from models.params import BY_INDEX, OP_SWITCH_INDEX, VOICE_PARAMS, VOICE_SIZE
from models.voice import Clamp, ClampReport, Voice

SYSEX_START, SYSEX_END, YAMAHA_ID = 0xF0, 0xF7, 0x43
DUMP_HEADER_SIZE = 6
VOICE_DUMP_SIZE = DUMP_HEADER_SIZE + VOICE_SIZE + 2  # 163
BANK_DUMP_SIZE = DUMP_HEADER_SIZE + BANK_PAYLOAD + 2  # 4104
PARAM_CHANGE_SIZE = 7
DUMP_REQUEST_SIZE = 5

DumpKind = Literal["voice", "bank"]

# Sub-status: high nibble of byte 2 (the low nibble is the MIDI channel).
_DUMP, _PARAM_CHANGE, _DUMP_REQUEST = 0x00, 0x10, 0x20
# Format number (byte 3) of each dump and dump request, and its data byte count.
_FORMAT: dict[str, int] = {"voice": 0x00, "bank": 0x09}
_FORMAT_KIND: dict[int, DumpKind] = {0x00: "voice", 0x09: "bank"}
_PAYLOAD_SIZE: dict[str, int] = {"voice": VOICE_SIZE, "bank": BANK_PAYLOAD}
# Parameter-change byte 3 is 0gggggpp: group g (0 = voice, 2 = function), pp = index bits 7-8.
_VOICE_GROUP = 0
_HIGH_BIT = re.compile(rb"[\x80-\xff]")


@dataclass(frozen=True)
class VoiceDump:
    """A single voice dump; ``report`` lists the values a lenient decode clamped."""

    channel: int
    voice: Voice
    report: ClampReport = ClampReport()
    checksum_ok: bool = True


@dataclass(frozen=True)
class BankDump:
    """A 32-voice bulk dump; ``reports[i]`` lists what unpacking voice ``i`` clamped."""

    channel: int
    voices: tuple[Voice, ...]
    reports: tuple[ClampReport, ...]
    checksum_ok: bool = True


@dataclass(frozen=True)
class ParamChange:
    """A voice parameter change (group 0); ``report`` holds the clamp of a lenient decode."""

    channel: int
    index: int
    value: int
    report: ClampReport = ClampReport()


@dataclass(frozen=True)
class DumpRequest:
    """A request for the synth to send its edit-buffer voice or its 32-voice bank."""

    channel: int
    kind: DumpKind


Decoded = VoiceDump | BankDump | ParamChange | DumpRequest


def checksum(payload: bytes) -> int:
    """The DX7 dump checksum: ``(-sum(payload)) & 0x7F``."""
    return -sum(payload) & 0x7F


def _status(sub_status: int, channel: int) -> int:
    if not 0 <= channel <= 15:
        raise SysexEncodeError(f"MIDI channel {channel} out of range 0..15 (channels 1-16 are 0-15 on the wire)")
    return sub_status | channel


def _dump(kind: DumpKind, payload: bytes, channel: int) -> bytes:
    size = len(payload)
    header = bytes([SYSEX_START, YAMAHA_ID, _status(_DUMP, channel), _FORMAT[kind], size >> 7, size & 0x7F])
    return header + payload + bytes([checksum(payload), SYSEX_END])


def encode_voice_dump(voice: Voice, channel: int = 0) -> bytes:
    """The 163-byte single voice dump ``F0 43 0n 00 01 1B`` + 155 VCED bytes + checksum + ``F7``.

    Raises:
        SysexEncodeError: ``channel`` is not 0-15.
    """
    return _dump("voice", voice.vced, channel)


def encode_bank_dump(voices: Sequence[Voice], channel: int = 0) -> bytes:
    """The 4104-byte bulk dump ``F0 43 0n 09 20 00`` + 32 packed voices + checksum + ``F7``.

    Raises:
        SysexEncodeError: not exactly 32 voices, or ``channel`` is not 0-15.
    """
    if len(voices) != BANK_VOICES:
        raise SysexEncodeError(f"a bank dump holds 32 voices, got {len(voices)}: pad with Voice.init() or split")
    return _dump("bank", pack_bank(list(voices)), channel)


def encode_param_change(index: int, value: int, channel: int = 0) -> bytes:
    """The 7-byte voice parameter change ``F0 43 1n gg pp dd F7`` (group 0 only, never group 2).

    Args:
        index: VCED parameter 0-155 (155 = operator on/off mask, bit 5 = OP1).
        value: a value within that parameter's range.
        channel: MIDI channel 0-15.

    Raises:
        SysexEncodeError: unknown parameter, value out of its range, or bad channel.
    """
    spec = BY_INDEX.get(index)
    if spec is None:
        raise SysexEncodeError(f"parameter {index} out of range 0..{OP_SWITCH_INDEX} (DX7 voice parameters)")
    if not spec.lo <= value <= spec.hi:
        raise SysexEncodeError(f"{spec.describe(value)}: clamp or fix the value before sending")
    status, group_byte = _status(_PARAM_CHANGE, channel), (_VOICE_GROUP << 2) | (index >> 7)
    return bytes([SYSEX_START, YAMAHA_ID, status, group_byte, index & 0x7F, value, SYSEX_END])


def encode_dump_request(kind: DumpKind, channel: int = 0) -> bytes:
    """The 5-byte dump request ``F0 43 2n 00 F7`` (voice) or ``F0 43 2n 09 F7`` (bank).

    Raises:
        SysexEncodeError: ``kind`` is not "voice" or "bank", or ``channel`` is not 0-15.
    """
    if kind not in _FORMAT:
        raise SysexEncodeError(f"dump request kind {kind!r} unknown: use 'voice' or 'bank'")
    return bytes([SYSEX_START, YAMAHA_ID, _status(_DUMP_REQUEST, channel), _FORMAT[kind], SYSEX_END])


def _fail(field: str, offset: int | None, message: str) -> SysexDecodeError:
    return SysexDecodeError(message, field=field, offset=offset)


def _check_data_bytes(data: bytes, start: int, end: int, offset: int = 0) -> None:
    match = _HIGH_BIT.search(data, start, end)
    if match is not None:
        at = offset + match.start()
        raise _fail("data", at, f"byte 0x{data[match.start()]:02X} at offset {at} has its high bit set: "
                    "SysEx data bytes are 0x00-0x7F")


def decode_bank_payload(
    payload: bytes, *, strict: bool = True, offset: int = 0
) -> tuple[tuple[Voice, ...], tuple[ClampReport, ...]]:
    """Unpack the 4096 data bytes of a bank (from a bulk dump or a raw headerless file).

    Args:
        payload: 32 packed 128-byte voices.
        strict: refuse a voice that needs clamping instead of clamping and reporting it.
        offset: where ``payload`` starts in its message or file, for error offsets.

    Raises:
        SysexDecodeError: wrong size ("length"), a byte >= 0x80 ("data"), or, when strict,
            a value out of range ("range").
    """
    if len(payload) != BANK_PAYLOAD:
        raise _fail("length", offset, f"a bank holds {BANK_PAYLOAD} data bytes, got {len(payload)}")
    _check_data_bytes(payload, 0, len(payload), offset)
    voices: list[Voice] = []
    reports: list[ClampReport] = []
    for slot in range(BANK_VOICES):
        voice, report = unpack_voice(payload[slot * PACKED_SIZE : (slot + 1) * PACKED_SIZE])
        if strict and report:
            problems = "; ".join(VOICE_PARAMS[clamp.index].describe(clamp.got) for clamp in report.clamps)
            raise _fail("range", offset + slot * PACKED_SIZE, f"bank voice {slot} '{voice.name}': {problems}")
        voices.append(voice)
        reports.append(report)
    return tuple(voices), tuple(reports)


def _check_frame(data: bytes) -> None:
    if not data or data[0] != SYSEX_START:
        first = f"0x{data[0]:02X}" if data else "nothing"
        raise _fail("header", 0, f"not a SysEx message: starts with {first}, expected F0")
    if data[-1] != SYSEX_END:
        raise _fail("terminator", len(data) - 1,
                    f"SysEx of {len(data)} bytes ends with 0x{data[-1]:02X}, expected F7: truncated message?")
    _check_data_bytes(data, 1, len(data) - 1)
    if len(data) < DUMP_REQUEST_SIZE:
        raise _fail("length", None, f"SysEx of {len(data)} bytes is shorter than any DX7 message (5 bytes)")
    if data[1] != YAMAHA_ID:
        raise _fail("header", 1, f"manufacturer ID 0x{data[1]:02X}, expected 0x43 (Yamaha)")


def _check_length(data: bytes, expected: int, what: str) -> None:
    if len(data) != expected:
        raise _fail("length", None, f"{what} is {expected} bytes, got {len(data)}")


def _voice_from_vced(payload: bytes, strict: bool) -> tuple[Voice, ClampReport]:
    if strict:
        for spec, value in zip(VOICE_PARAMS, payload, strict=False):
            if not spec.lo <= value <= spec.hi:
                raise _fail("range", DUMP_HEADER_SIZE + spec.index, spec.describe(value))
    return Voice.clamped(payload)


def _decode_dump(data: bytes, channel: int, strict: bool) -> VoiceDump | BankDump:
    kind = _FORMAT_KIND.get(data[3])
    if kind is None:
        raise _fail("header", 3, f"dump format {data[3]} unknown: DX7 dumps are 0 (voice) or 9 (32-voice bank)")
    size = _PAYLOAD_SIZE[kind]
    _check_length(data, DUMP_HEADER_SIZE + size + 2, f"a {kind} dump")
    declared = (data[4] << 7) | data[5]
    if declared != size:
        raise _fail("length", 4, f"{kind} dump declares {declared} data bytes, expected {size}")
    payload = data[DUMP_HEADER_SIZE:-2]
    computed = checksum(payload)
    if strict and computed != data[-2]:
        raise _fail("checksum", len(data) - 2, f"{kind} dump checksum 0x{data[-2]:02X}, computed 0x{computed:02X}")
    checksum_ok = computed == data[-2]
    if kind == "voice":
        voice, report = _voice_from_vced(payload, strict)
        return VoiceDump(channel, voice, report, checksum_ok)
    voices, reports = decode_bank_payload(payload, strict=strict, offset=DUMP_HEADER_SIZE)
    return BankDump(channel, voices, reports, checksum_ok)


def _decode_param_change(data: bytes, channel: int, strict: bool) -> ParamChange:
    _check_length(data, PARAM_CHANGE_SIZE, "a parameter change")
    group = data[3] >> 2
    if group != _VOICE_GROUP:
        raise _fail("group", 3, f"parameter group {group} (byte 0x{data[3]:02X}) unsupported: only group 0 "
                    "(voice) is decoded; group 2 (function parameters) corrupts Dexed's voice")
    index = ((data[3] & 0x03) << 7) | data[4]
    spec = BY_INDEX.get(index)
    if spec is None:
        raise _fail("range", 4, f"parameter {index} out of range 0..{OP_SWITCH_INDEX}")
    value = data[5]
    if spec.lo <= value <= spec.hi:
        return ParamChange(channel, index, value)
    if strict:
        raise _fail("range", 5, spec.describe(value))
    clamped = min(max(value, spec.lo), spec.hi)
    return ParamChange(channel, index, clamped, ClampReport((Clamp(index, spec.name, value, clamped),)))


def _decode_dump_request(data: bytes, channel: int) -> DumpRequest:
    _check_length(data, DUMP_REQUEST_SIZE, "a dump request")
    kind = _FORMAT_KIND.get(data[3])
    if kind is None:
        raise _fail("header", 3, f"dump request format {data[3]} unknown: 0 (voice) or 9 (bank)")
    return DumpRequest(channel, kind)


def decode_sysex(data: bytes, *, strict: bool = True) -> Decoded:
    """Decode one complete DX7 SysEx message (``F0`` .. ``F7``).

    Args:
        data: the message bytes.
        strict: refuse a bad checksum or an out-of-range value. When False, a bad checksum is
            flagged (``checksum_ok=False``) and out-of-range values are clamped and reported;
            what cannot be interpreted (header, length, terminator, data bytes) still raises.

    Returns:
        A :class:`VoiceDump`, :class:`BankDump`, :class:`ParamChange` or :class:`DumpRequest`.

    Raises:
        SysexDecodeError: with ``field`` one of "header", "terminator", "data", "length",
            "checksum", "group", "range", and the ``offset`` of the problem when known.
    """
    data = bytes(data)
    _check_frame(data)
    sub_status, channel = data[2] & 0xF0, data[2] & 0x0F
    if sub_status == _DUMP:
        return _decode_dump(data, channel, strict)
    if sub_status == _PARAM_CHANGE:
        return _decode_param_change(data, channel, strict)
    if sub_status == _DUMP_REQUEST:
        return _decode_dump_request(data, channel)
    raise _fail("header", 2, f"byte 2 = 0x{data[2]:02X}: not a DX7 dump (0n), parameter change (1n) "
                "or dump request (2n)")
