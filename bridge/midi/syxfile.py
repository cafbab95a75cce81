"""DX7 SysEx files: read .syx (many messages, or a raw 4096-byte bank), write .syx and .mid.

This module only moves bytes between files and :mod:`bridge.midi.sysex`. Every write is atomic: a
temp file in the target's directory, fsync, then ``os.replace``; a failed write leaves the
target untouched and no temp file behind.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import mido

from bridge.atomicfile import atomic_write
from bridge.midi.sysex import (
    DUMP_HEADER_SIZE,
    SYSEX_START,
    BankDump,
    VoiceDump,
    checksum,
    decode_bank_payload,
    decode_sysex,
    encode_bank_dump,
    encode_voice_dump,
)
from models.errors import SysexDecodeError, SysexEncodeError
from models.packing import BANK_PAYLOAD
from models.voice import ClampReport, Voice

logger = logging.getLogger(__name__)

MIDI_TICKS_PER_BEAT = 480
MIDI_TEMPO = 500_000  # microseconds per beat: 120 bpm
DIN_BYTES_PER_SECOND = 3125  # 31 250 baud, 10 bits a byte
SYX_SUFFIXES = (".syx",)
MIDI_SUFFIXES = (".mid", ".midi")

_MESSAGE = re.compile(rb"\xf0[\x00-\x7f]*\xf7")


@dataclass(frozen=True)
class FileVoice:
    """A voice read from a file; ``slot`` is its 0-based position among the file's voices."""

    voice: Voice
    report: ClampReport
    slot: int


@dataclass
class SyxContents:
    """The voices of a file and one line per thing that could not be read cleanly."""

    voices: list[FileVoice] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _split_messages(data: bytes) -> tuple[list[tuple[int, bytes]], list[tuple[int, str]]]:
    """Every complete ``F0 .. F7`` message with its offset, and each stretch of other bytes."""
    messages: list[tuple[int, bytes]] = []
    gaps: list[tuple[int, str]] = []
    pos = 0
    for match in [*_MESSAGE.finditer(data), None]:
        start = match.start() if match else len(data)
        if start > pos:
            gap = data[pos:start]
            unterminated = " (holds an F0 message cut short before its F7)" if SYSEX_START in gap else ""
            gaps.append((pos, f"{len(gap)} bytes outside any complete SysEx skipped{unterminated}"))
        if match:
            messages.append((start, match.group()))
            pos = match.end()
    return messages, gaps


def _read_nonempty(path: Path) -> bytes:
    data = path.read_bytes()
    if not data:
        raise SysexDecodeError(f"{path.name} is empty: a .syx file holds DX7 SysEx messages", field="file")
    return data


def read_syx_messages(path: str | os.PathLike[str]) -> list[bytes]:
    """Every ``F0 .. F7`` message of a file, in order; bytes between them are skipped and logged.

    Raises:
        OSError: the file cannot be read.
        SysexDecodeError: the file is empty or holds no complete SysEx message (field "file").
    """
    path = Path(path)
    data = _read_nonempty(path)
    messages, gaps = _split_messages(data)
    if not messages:
        raise SysexDecodeError(f"{path.name} holds no complete SysEx message ({len(data)} bytes)", field="file")
    for offset, text in gaps:
        logger.warning("%s offset %d: %s", path.name, offset, text)
    return [message for _, message in messages]


def read_syx_voices(path: str | os.PathLike[str], *, strict: bool = False) -> SyxContents:
    """Every voice of a .syx file: bank dumps, single voice dumps, or a raw 4096-byte bank.

    Args:
        path: the file.
        strict: raise at the first problem. When False, junk between messages, messages that
            cannot be decoded, non-voice messages and wrong checksums (the voices are still
            loaded: cartridge rips often carry stale checksums) are listed in ``problems``,
            each with the file name and offset; clamped values are in each voice's report.

    Raises:
        OSError: the file cannot be read.
        SysexDecodeError: no voice in the file (field "file"), a raw bank with a byte >= 0x80,
            or, when strict, the first problem.
    """
    path = Path(path)
    data = _read_nonempty(path)
    found: list[tuple[Voice, ClampReport]] = []
    problems: list[tuple[int, str]] = []

    def problem(offset: int, text: str, problem_field: str) -> None:
        if strict:
            raise SysexDecodeError(f"{path.name} offset {offset}: {text}", field=problem_field, offset=offset)
        problems.append((offset, text))

    if len(data) == BANK_PAYLOAD and data[0] != SYSEX_START:
        try:
            found.extend(zip(*decode_bank_payload(data, strict=strict), strict=False))
        except SysexDecodeError as exc:
            raise SysexDecodeError(f"{path.name} (raw bank): {exc}", field=exc.field, offset=exc.offset) from exc
    else:
        messages, gaps = _split_messages(data)
        for offset, text in gaps:
            problem(offset, text, "junk")
        for offset, message in messages:
            try:
                decoded = decode_sysex(message, strict=strict)
            except SysexDecodeError as exc:
                problem(offset, str(exc), exc.field)
                continue
            if isinstance(decoded, VoiceDump):
                found.append((decoded.voice, decoded.report))
            elif isinstance(decoded, BankDump):
                found.extend(zip(decoded.voices, decoded.reports, strict=False))
            else:
                problem(offset, f"{type(decoded).__name__} is not a voice, skipped", "kind")
                continue
            if not decoded.checksum_ok:
                computed = checksum(message[DUMP_HEADER_SIZE:-2])
                text = f"checksum 0x{message[-2]:02X}, computed 0x{computed:02X}: voices loaded anyway"
                problem(offset, text, "checksum")
    if not found:
        first = f"; first problem: offset {problems[0][0]}: {problems[0][1]}" if problems else ""
        message = f"{path.name}: no DX7 voice in {len(data)} bytes (expected SysEx dumps or a raw 4096-byte bank)"
        raise SysexDecodeError(message + first, field="file")
    voices = [FileVoice(voice, report, slot) for slot, (voice, report) in enumerate(found)]
    return SyxContents(voices, [f"{path.name} offset {offset}: {text}" for offset, text in sorted(problems)])


def _checked(messages: Sequence[bytes]) -> list[bytes]:
    if not messages:
        raise SysexEncodeError("no SysEx message to write")
    for i, message in enumerate(messages):
        if _MESSAGE.fullmatch(bytes(message)) is None:
            raise SysexEncodeError(
                f"message {i} ({len(message)} bytes, starting {bytes(message[:4]).hex(' ')}) is not one complete "
                "SysEx message: F0, data bytes 0x00-0x7F, F7"
            )
    return [bytes(message) for message in messages]


def write_syx(path: str | os.PathLike[str], messages: Sequence[bytes]) -> None:
    """Write SysEx messages back to back into a .syx file, atomically.

    Raises:
        SysexEncodeError: no message, or one that is not a complete ``F0 .. F7`` message.
        OSError: the file cannot be written.
    """
    payload = b"".join(_checked(messages))
    atomic_write(Path(path), lambda file: file.write(payload))


def write_voice_syx(path: str | os.PathLike[str], voice: Voice, channel: int = 0) -> None:
    """Write one single voice dump (163 bytes) into a .syx file."""
    write_syx(path, [encode_voice_dump(voice, channel)])


def write_bank_syx(path: str | os.PathLike[str], voices: Sequence[Voice], channel: int = 0) -> None:
    """Write one 32-voice bank dump (4104 bytes) into a .syx file."""
    write_syx(path, [encode_bank_dump(voices, channel)])


def write_midi_file(path: str | os.PathLike[str], messages: Sequence[bytes], *, interval_s: float = 0.2) -> None:
    """Write SysEx messages as a type-0 Standard MIDI File at 120 bpm, atomically.

    Each message starts once the previous one has had time to cross a DIN cable (3 125 bytes/s)
    plus ``interval_s``, so a DX7 or a DAW absorbs each one.

    Raises:
        SysexEncodeError: no message, a malformed one, or a negative ``interval_s``.
        OSError: the file cannot be written.
    """
    if interval_s < 0:
        raise SysexEncodeError(f"interval_s = {interval_s}: the pause between messages cannot be negative")
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=MIDI_TEMPO, time=0)])
    pause_s = 0.0
    for message in _checked(messages):
        track.append(mido.Message("sysex", data=message[1:-1], time=_ticks(pause_s)))
        pause_s = len(message) / DIN_BYTES_PER_SECOND + interval_s
    track.append(mido.MetaMessage("end_of_track", time=_ticks(pause_s)))
    midi = mido.MidiFile(type=0, ticks_per_beat=MIDI_TICKS_PER_BEAT, tracks=[track])
    atomic_write(Path(path), lambda file: midi.save(file=file))


def _ticks(seconds: float) -> int:
    return round(mido.second2tick(seconds, MIDI_TICKS_PER_BEAT, MIDI_TEMPO))


def write_file(path: str | os.PathLike[str], messages: Sequence[bytes]) -> None:
    """Write SysEx messages as .syx or as a MIDI file (.mid, .midi), chosen by the suffix.

    Raises:
        SysexEncodeError: another suffix, or bad messages.
        OSError: the file cannot be written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in SYX_SUFFIXES:
        write_syx(path, messages)
    elif suffix in MIDI_SUFFIXES:
        write_midi_file(path, messages)
    else:
        raise SysexEncodeError(f"cannot write {path.name}: unknown suffix {suffix!r}, use .syx or .mid")
