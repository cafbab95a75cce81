"""A DX7 receiver as Dexed (v1.0) implements it: MIDI in -> the voice the synth holds.

Sans-IO state machine, the test oracle of every MIDI mode and the heart of the embedded synth.
What each message does follows Dexed ``Source/PluginProcessor.cpp`` (``handleIncomingMidiMessage``,
``processMidiMessage``) and ``PluginData.cpp``:

* single voice dump: the 155 bytes replace the voice, all operators on, sounding notes cut;
  a wrong checksum is loaded anyway (Dexed only logs it);
* 32-voice bulk dump: replaces the bank (refused on a wrong checksum), program 0 loaded;
* parameter change (group bits ignored, as Dexed does): writes one byte, heard from the next
  note-on; parameter 155 sets the operator on/off mask;
* program change: bank voice ``min(n, 31)`` loaded, all operators on, notes cut;
* control change through a :class:`bridge.midi.cc_map.CcMap` (what the user MIDI-learned): the
  parameter is set as Dexed's host control does, sounding notes follow; CC 120 cuts notes.

Dexed checks neither channel nor checksum nor range; this receiver records a value out of its
DX7 range instead of holding it (:class:`ReceiverError`), since a sender must never send one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bridge.midi.cc_map import CcMap
from bridge.midi.sysex import SYSEX_END, SYSEX_START, BankDump, DumpRequest, ParamChange, VoiceDump, decode_sysex
from bridge.midi.sysex_assembler import SysexAssembler
from models.errors import DexbridgeError
from models.packing import BANK_VOICES
from models.params import BY_INDEX, BY_NAME, OP_SWITCH_INDEX
from models.voice import Voice

ALL_OPERATORS_ON = BY_INDEX[OP_SWITCH_INDEX].hi  # 0b111111, bit 5 = OP1
_NOTE_OFF, _NOTE_ON, _CONTROL_CHANGE, _PROGRAM_CHANGE = 0x80, 0x90, 0xB0, 0xC0
_ALL_SOUND_OFF, _ALL_NOTES_OFF = 120, 123
_CHANNEL_MESSAGE_SIZE = {0x80: 3, 0x90: 3, 0xA0: 3, 0xB0: 3, 0xC0: 2, 0xD0: 2, 0xE0: 3}

Kind = Literal["voice", "bank", "param", "op_switch", "program", "cc", "note", "ignored"]


class ReceiverError(DexbridgeError, ValueError):
    """A message the synth would take but that carries a value a DX7 voice cannot hold."""


@dataclass(frozen=True)
class Received:
    """What one message did.

    Attributes:
        kind: which state it changed (``"ignored"``: none).
        cuts_notes: Dexed silences every sounding note on it (dumps, program changes, CC 120).
        index: the VCED parameter set, for ``"param"``/``"cc"``/``"op_switch"``.
        detail: why a message was ignored, or a checksum warning.
    """

    kind: Kind
    cuts_notes: bool = False
    index: int | None = None
    detail: str = ""


class Receiver:
    """The voice, operator mask, bank and program a Dexed would hold after the messages fed so far.

    Args:
        voice: the initial voice (default ``Voice.init()``).
        bank: the initial 32-voice bank (default 32 copies of ``Voice.init()``).
        cc_map: the CCs the synth has learned; None = none (CCs change nothing).
    """

    def __init__(self, voice: Voice | None = None, bank: Sequence[Voice] | None = None, cc_map: CcMap | None = None) -> None:
        self._values = list((voice or Voice.init()).values)
        self.op_switch = ALL_OPERATORS_ON
        self.bank: tuple[Voice, ...] = tuple(bank) if bank is not None else (Voice.init(),) * BANK_VOICES
        if len(self.bank) != BANK_VOICES:
            raise ValueError(f"a bank holds {BANK_VOICES} voices, got {len(self.bank)}")
        self.program = 0
        self.cc_map = cc_map
        self._assembler = SysexAssembler()
        self._pending = bytearray()
        self._in_sysex = False

    @property
    def voice(self) -> Voice:
        """The voice the synth holds (the name included)."""
        return Voice(tuple(self._values))

    def feed(self, data: bytes) -> list[Received]:
        """Consume raw MIDI bytes (any chunking, realtime bytes anywhere) and apply each complete message.

        A SysEx cut short by a status byte is dropped and listed by :meth:`take_errors`; stray data
        bytes (running status, which no sender of ours uses) are skipped.

        Raises:
            ReceiverError: a message would set a value outside its DX7 range (that message is not
                applied; every other message of the chunk is, then the first error is raised).
            SysexDecodeError: a DX7 SysEx message that cannot be decoded (likewise).
        """
        results: list[Received] = []
        failures: list[DexbridgeError] = []

        def apply(message: bytes) -> None:
            try:
                results.append(self.receive(message))
            except DexbridgeError as exc:
                failures.append(exc)

        for byte in bytes(data):
            if byte >= 0xF8:  # realtime: never part of a message
                continue
            if byte == SYSEX_START:
                self._in_sysex, self._pending = True, bytearray()
            if self._in_sysex:
                for message in self._assembler.feed(bytes([byte])):
                    apply(message)
                if byte & 0x80 and byte != SYSEX_START:
                    self._in_sysex = False
                if byte in (SYSEX_START, SYSEX_END) or not byte & 0x80:
                    continue
            if byte & 0x80:
                self._pending = bytearray([byte])
            elif self._pending:
                self._pending.append(byte)
            if self._pending and len(self._pending) == _CHANNEL_MESSAGE_SIZE.get(self._pending[0] & 0xF0, 1):
                message, self._pending = bytes(self._pending), bytearray()
                apply(message)
        if failures:
            raise failures[0]
        return results

    def take_errors(self) -> list[str]:
        """SysEx messages dropped while reassembling since the last call (cut short, oversized)."""
        return self._assembler.take_errors()

    def receive(self, message: bytes) -> Received:
        """Apply one complete MIDI message.

        Raises:
            ReceiverError: a value outside its DX7 range (nothing applied).
            SysexDecodeError: a Yamaha SysEx message that cannot be decoded.
        """
        message = bytes(message)
        if not message:
            return Received("ignored", detail="empty message")
        if message[0] == SYSEX_START:
            return self._sysex(message)
        status = message[0] & 0xF0
        if status == _PROGRAM_CHANGE and len(message) == 2:
            return self._load_program(message[1])
        if status == _CONTROL_CHANGE and len(message) == 3:
            return self._control_change(message[0] & 0x0F, message[1], message[2])
        if status in (_NOTE_ON, _NOTE_OFF):
            return Received("note")
        return Received("ignored", detail=f"status 0x{message[0]:02X} changes no voice data")

    def _sysex(self, message: bytes) -> Received:
        if len(message) < 3 or message[1] != 0x43:
            return Received("ignored", detail="not a Yamaha SysEx message")
        decoded = decode_sysex(_as_group_zero(message), strict=False)
        if isinstance(decoded, VoiceDump):
            self._check_clean(decoded.report, "voice dump")
            self._values, self.op_switch = list(decoded.voice.values), ALL_OPERATORS_ON
            detail = "" if decoded.checksum_ok else "wrong checksum: loaded anyway, as Dexed does"
            return Received("voice", cuts_notes=True, detail=detail)
        if isinstance(decoded, BankDump):
            if not decoded.checksum_ok:
                return Received("ignored", detail="bank dump with a wrong checksum: Dexed refuses it")
            self.bank = decoded.voices
            loaded = self._load_program(0)
            return Received("bank", cuts_notes=loaded.cuts_notes)
        if isinstance(decoded, ParamChange):
            return self._param_change(decoded)
        assert isinstance(decoded, DumpRequest)
        return Received("ignored", detail=f"{decoded.kind} dump request: answered by the synth, no state change")

    def _param_change(self, change: ParamChange) -> Received:
        self._check_clean(change.report, "parameter change")
        if change.index == OP_SWITCH_INDEX:
            self.op_switch = change.value
            return Received("op_switch", index=change.index)
        self._values[change.index] = change.value
        return Received("param", index=change.index)

    def _load_program(self, number: int) -> Received:
        self.program = min(number, BANK_VOICES - 1)
        self._values, self.op_switch = list(self.bank[self.program].values), ALL_OPERATORS_ON
        return Received("program", cuts_notes=True)

    def _control_change(self, channel: int, cc: int, value: int) -> Received:
        if cc == _ALL_SOUND_OFF:
            return Received("note", cuts_notes=True, detail="all sound off")
        if cc == _ALL_NOTES_OFF:
            return Received("note", detail="all notes off: held notes released")
        decoded = self.cc_map.decode(channel, cc, value) if self.cc_map else None
        if decoded is None:
            return Received("ignored", detail=f"channel {channel + 1} CC {cc} is not learned")
        index, new = decoded
        self._values[index] = new
        return Received("cc", index=index)

    @staticmethod
    def _check_clean(report: object, what: str) -> None:
        if report:
            raise ReceiverError(f"{what} carries values outside the DX7 ranges: {report}")


# Synths without an operator switch (dexed-py, the Faust DX7) render a switched-off operator silent
# by zeroing what sets its level: output level, level scaling depths, velocity sensitivity.
_SILENCED_FIELDS = ("output_level", "left_depth", "right_depth", "key_vel_sens")


def audible_voice(voice: Voice, op_switch: int) -> Voice:
    """``voice`` with the operators the mask turns off (bit 5 = OP1 ... bit 0 = OP6) silenced, for a
    synth that has no operator switch (Dexed itself zeroes a switched-off operator's output)."""
    if op_switch == ALL_OPERATORS_ON:
        return voice
    changes = {BY_NAME[f"op{op}_{field}"].index: 0 for op in range(1, 7) if not op_switch >> (6 - op) & 1
               for field in _SILENCED_FIELDS}
    return voice.replace(changes)


def _as_group_zero(message: bytes) -> bytes:
    """Dexed reads a parameter change's offset as ``(byte3 << 7) + byte4`` in 8 bits: the group
    bits fall off, so a group-2 message lands on a voice parameter (why we never send one)."""
    if len(message) == 7 and message[2] & 0xF0 == 0x10:
        return message[:3] + bytes([message[3] & 0x03]) + message[4:]
    return message

