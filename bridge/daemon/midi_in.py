"""MIDI in -> the bridge: CCs to macros and the morph pad, dumps to the voice / a slot / the bank,
program changes to bank voices, notes through to the outputs.

:meth:`MidiRouter.feed` takes the bytes of one MIDI message on the event loop (the port's callback
hops to the loop first and reassembles SysEx, see ``bridge.midi.ports.MidiInput``),
so split or garbled dumps are reassembled or refused, never half-applied; every refusal is logged,
counted and broadcast as ``/dexbridge/error``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from bridge.daemon.session import BridgeSession
from bridge.daemon.voices import voice_words
from bridge.midi.sysex import BankDump, DumpRequest, ParamChange, VoiceDump, decode_sysex
from models.errors import DexbridgeError, MidiPortError

logger = logging.getLogger(__name__)

NOTE_OFF, NOTE_ON, POLY_PRESSURE, CONTROL_CHANGE, PROGRAM_CHANGE = 0x80, 0x90, 0xA0, 0xB0, 0xC0
CHANNEL_PRESSURE, PITCH_BEND = 0xD0, 0xE0
_THRU = {NOTE_OFF, NOTE_ON, POLY_PRESSURE, CHANNEL_PRESSURE, PITCH_BEND}


class MidiInputError(DexbridgeError, ValueError):
    """A MIDI message the bridge cannot use (a garbled dump, a non-DX7 SysEx)."""


@dataclass(frozen=True)
class CcRoutes:
    """Which incoming CC numbers drive what (on the input channel, or any channel with ``omni``).

    Defaults: CC 20-27 are macros 0-7 (0..127 -> -1..1), CC 28 / 29 the morph pad's x / y (0..1).
    """

    macros: tuple[int, ...] = (20, 21, 22, 23, 24, 25, 26, 27)
    morph_x: int = 28
    morph_y: int = 29
    omni: bool = True


@dataclass
class MidiRouter:
    """Routes incoming MIDI to a :class:`BridgeSession`.

    Args:
        session: the bridge.
        channel: the 0-based input channel (ignored for CCs with ``routes.omni``).
        routes: the CC assignments.
    """

    session: BridgeSession
    channel: int = 0
    routes: CcRoutes = field(default_factory=CcRoutes)
    held: set[tuple[int, int]] = field(default_factory=set)
    stats: collections.Counter[str] = field(default_factory=collections.Counter)
    _morph: list[float | None] = field(default_factory=lambda: [None, None])

    def feed(self, data: bytes) -> None:
        """Handle one MIDI message's bytes (a SysEx may come in pieces)."""
        self.stats["messages"] += 1
        try:
            if data[:1] == b"\xf0":
                self._dx7(data)
            elif data:
                self._channel_message(data)
        except Exception as exc:  # never let one message stop MIDI intake
            self.report(exc)

    def report(self, exc: BaseException) -> None:
        """Log, count and broadcast a refusal of MIDI input."""
        self.stats["errors"] += 1
        self.session.report(exc, "MIDI in")

    def report_dropped(self, problems: list[str]) -> None:
        """Report SysEx the port's assembler dropped (cut short, oversized)."""
        for problem in problems:
            self.report(MidiInputError(f"SysEx dropped: {problem}"))

    def _dx7(self, message: bytes) -> None:
        try:
            decoded = decode_sysex(message)
        except DexbridgeError as exc:
            raise MidiInputError(f"SysEx of {len(message)} B refused: {exc}") from None
        session = self.session
        if isinstance(decoded, VoiceDump):
            slot, session.state.dump_slot = session.state.dump_slot, None
            if slot is None:
                session.apply_voice(decoded.voice)
                logger.info("voice from MIDI in: %s", voice_words(decoded.voice))
            else:
                session.voices.fill_slot(None, slot, decoded.voice)
        elif isinstance(decoded, BankDump):
            session.voices.load_bank(decoded.voices, "MIDI bank dump")
            logger.info("bank loaded: %d voices from a MIDI bank dump", len(decoded.voices))
            session.server.broadcast("/dexbridge/done", "midi in", f"bank of {len(decoded.voices)} voices")
        elif isinstance(decoded, ParamChange):
            session.apply_voice(session.state.voice.replace({decoded.index: decoded.value}))
        elif isinstance(decoded, DumpRequest):
            if decoded.kind == "voice":
                for output in session.outputs:
                    output.send_dump(session.state.voice)
                logger.info("dump request on MIDI in: answered with the current voice '%s'", session.state.voice.name.strip())
            else:
                logger.info("midi_in.dump_request kind=%s: not served (a bank: use /dexbridge/bank/save)", decoded.kind)

    def _channel_message(self, data: bytes) -> None:
        kind, channel = data[0] & 0xF0, data[0] & 0x0F
        if kind in _THRU:
            self._track_note(kind, channel, data)
            for output in self.session.outputs:
                output.send_note(bytes(data))
        elif kind == CONTROL_CHANGE and len(data) == 3 and (self.routes.omni or channel == self.channel):
            self._control_change(data[1], data[2])
        elif kind == PROGRAM_CHANGE and len(data) == 2 and channel == self.channel:
            self.session.voices.program(None, data[1] % len(self.session.state.bank))

    def _track_note(self, kind: int, channel: int, data: bytes) -> None:
        if len(data) < 3 or kind not in (NOTE_ON, NOTE_OFF):
            return
        key = (channel, data[1])
        if kind == NOTE_ON and data[2] > 0:
            self.held.add(key)
        else:
            self.held.discard(key)

    def _control_change(self, number: int, value: int) -> None:
        routes = self.routes
        if number in routes.macros:
            self.session.controls.macro(None, routes.macros.index(number), value / 127 * 2.0 - 1.0)
        elif number in (routes.morph_x, routes.morph_y):
            self._morph[number == routes.morph_y] = value / 127
            x, y = self._morph
            self.session.controls.morph(None, x if x is not None else 0.0, y)


async def watch_input_port(name: str, api: str, report: Callable[[BaseException], None], interval_s: float = 1.0) -> None:
    """Report once when a named MIDI input disappears (an input port never says so itself).

    Args:
        name: the opened port's full name (not a ``virtual:`` port, which lives as long as we do).
        api: the ``--midi-api`` value it was opened with.
        report: called with a :class:`MidiPortError` naming the port.
        interval_s: how often the port list is read (off the loop).
    """
    import rtmidi

    from bridge.midi.systems import CLIENT_NAME, midi_api

    lister = rtmidi.MidiIn(midi_api(api).rtmidi_api, name=f"{CLIENT_NAME}-watch")
    try:
        while True:
            await asyncio.sleep(interval_s)
            if name not in await asyncio.to_thread(lister.get_ports):
                report(MidiPortError(f"MIDI input {name!r} vanished (the device was unplugged or its program quit); "
                                     "MIDI in is off until the daemon restarts with it back"))
                return
    finally:
        lister.delete()
