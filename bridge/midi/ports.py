"""MIDI ports (python-rtmidi): find a port by name, open it, notice when it vanishes.

A port is named exactly, by a unique substring of an existing port, or ``virtual:NAME`` (a new
port others connect to). Input is handed to the event loop in batches (below), where a
:class:`SysexAssembler` reassembles SysEx and each complete message goes to the handler. Output
ports raise :class:`MidiPortError` when the port is gone instead of failing later or silently.
Ports only move bytes: messages are built by :mod:`bridge.midi.sysex`, :mod:`bridge.midi.cc_map`
and :func:`all_notes_off_messages`.

A name is not a port: on JACK, rtmidi connects our output to the named port once, and JACK drops
that connection when the port's client goes; a synth that comes back under the same name (Dexed
reloaded, a host restarted), however fast, is connected to nothing while its name is listed again.
So on JACK a named output also keeps a JACK client of its own (the JACK-Client package, through
:func:`bridge.midi.jack_link.open_jack_client`) that sees the connection, and :meth:`MidiOutput.reconnect` makes it again.

Input never runs Python on the MIDI system's thread. rtmidi calls a Python callback from JACK's
process thread, which must then take the GIL once per event: under load (inference, a busy
loop) it was still reading a period's events when the sender's next cycle reset that buffer, and
rtmidi hands on a copy of the last event read for each one left (``scripts/measure_midi_loss.py``,
two busy threads: through the callback, 1 of a voice's 155 changes arrived as sent, the other 154
as copies of the first; in queue mode every one arrives, at every period, with JACK real-time).
So rtmidi queues each message in C++ and a drain thread of ours collects them every
millisecond, handing the loop one batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence

import rtmidi

from bridge.midi.jack_link import JackLink, close_jack_client, open_jack_client
from bridge.midi.pacing import OTHER_PERIOD_S, PacedWriter, jack_period_s
from bridge.midi.sysex import SYSEX_END, SYSEX_START
from bridge.midi.sysex_assembler import SysexAssembler
from bridge.midi.systems import CLIENT_NAME, midi_api, resolve_api
from models.errors import MidiPortError

logger = logging.getLogger(__name__)

VIRTUAL_PREFIX = "virtual:"
_SUSTAIN, _ALL_SOUND_OFF, _ALL_NOTES_OFF = 64, 120, 123
_INPUT_POLL_S = 0.001  # how often the drain thread empties rtmidi's queue
_INPUT_QUEUE_LIMIT = 65_536  # messages rtmidi holds for the drain thread (a 64-frame period is 1.3 ms)


def resolve_port_name(wanted: str, available: Sequence[str], direction: str) -> str:
    """The one port ``wanted`` names: an exact match, else the only port containing it.

    Args:
        wanted: the name given by the user.
        available: the ports that exist now.
        direction: ``"input"`` or ``"output"``, for the message.

    Raises:
        MidiPortError: no port or several ports match; the message lists the ports.
    """
    if wanted in available:
        return wanted
    matches = [name for name in available if wanted in name]
    if len(matches) == 1:
        return matches[0]
    listing = ", ".join(repr(name) for name in available) or "none"
    if matches:
        raise MidiPortError(f"MIDI {direction} {wanted!r} is ambiguous: it matches {matches}; give more of the name")
    raise MidiPortError(f"no MIDI {direction} port matches {wanted!r}; {direction} ports: {listing} "
                        f"(or use {VIRTUAL_PREFIX}NAME to create one)")


def _virtual_name(spec: str) -> str | None:
    if not spec.startswith(VIRTUAL_PREFIX):
        return None
    name = spec[len(VIRTUAL_PREFIX):]
    if not name:
        raise MidiPortError(f"{spec!r}: give the virtual port a name, e.g. virtual:dexbridge")
    return name


def _open(port: rtmidi.MidiIn | rtmidi.MidiOut, spec: str, direction: str) -> str:
    """Open ``spec`` on ``port``; returns the name of what it is connected to or created.
    On failure the rtmidi client is released before the error is raised."""
    try:
        virtual = _virtual_name(spec)
        if virtual is not None:
            port.open_virtual_port(virtual)
            return virtual
        available = port.get_ports()
        name = resolve_port_name(spec, available, direction)
        port.open_port(available.index(name), name=CLIENT_NAME)
        return name
    except rtmidi.RtMidiError as exc:
        port.delete()
        raise MidiPortError(f"cannot open MIDI {direction} {spec!r}: {exc}") from exc
    except MidiPortError:
        port.delete()
        raise


def all_notes_off_messages(channels: Iterable[int] = range(16), *, sound_off: bool = False) -> list[bytes]:
    """Sustain off then all-notes-off (CC 64 = 0, CC 123 = 0) on each channel; with ``sound_off``
    also all-sound-off (CC 120), which Dexed answers by cutting every note at once."""
    out: list[bytes] = []
    for channel in channels:
        status = 0xB0 | channel
        out += [bytes([status, _SUSTAIN, 0]), bytes([status, _ALL_NOTES_OFF, 0])]
        if sound_off:
            out.append(bytes([status, _ALL_SOUND_OFF, 0]))
    return out


def _sysex_open_after(data: bytes, was_open: bool) -> bool:
    """Whether a SysEx is still unterminated after ``data``: decided by its last status byte."""
    for byte in reversed(data):
        if 0x80 <= byte < 0xF8:
            return byte == SYSEX_START
    return was_open


class MidiOutput:
    """An open output port; :meth:`send` raises :class:`MidiPortError` once the port is gone.

    A named port is looked up again when a send fails and at most every ``check_interval_s``
    (44 us on JACK), so a synth that quits is reported within that interval. A synth that restarts
    under the same name in between is only seen on JACK: :meth:`reconnect` (the daemon calls it
    every half second and on ``/dexbridge/resync``) connects it again.

    Args:
        spec: exact name, unique substring, or ``virtual:NAME``.
        api: a ``--midi-api`` value.
        check_interval_s: how often a send checks that a named port still exists.
        per_period: send at most this many messages per JACK period (per millisecond on other MIDI
            systems), the rest in later periods (:mod:`bridge.midi.pacing`); None = all at once.

    Raises:
        MidiPortError: no such port, an ambiguous name, or the port cannot be opened.
    """

    def __init__(self, spec: str, api: str = "auto", *, check_interval_s: float = 0.5, per_period: int | None = None) -> None:
        api = resolve_api(api) if api == "auto" else api
        self._port = rtmidi.MidiOut(midi_api(api).rtmidi_api, name=CLIENT_NAME)
        self.virtual = spec.startswith(VIRTUAL_PREFIX)
        self._link: JackLink | None = None
        if api == "jack" and not self.virtual:
            self.name = self._open_linked(spec)
        else:
            self.name = _open(self._port, spec, "output")
        self.check_interval_s = check_interval_s
        self._checked_at = time.monotonic()
        self.closed = False
        self._paced: PacedWriter | None = None
        if per_period is not None:
            period_s = (jack_period_s() if api == "jack" else None) or OTHER_PERIOD_S
            self._paced = PacedWriter(self._write, per_period, period_s, name=f"dexbridge-midi-out:{self.name}")
            logger.info("midi_out.paced port=%s messages_per_period=%d period_ms=%.2f", self.name, per_period, period_s * 1000)

    def _open_linked(self, spec: str) -> str:
        """Open the named port ``spec`` on JACK and find our port's connection to it (:class:`JackLink`);
        where that cannot be seen (logged), :meth:`reconnect` sees nothing, as on other MIDI systems."""
        try:
            client = open_jack_client(f"{CLIENT_NAME}-link", "to see connections")
        except MidiPortError as exc:
            logger.info("midi_out.connection_unseen port=%s reason=%s (use /dexbridge/resync or --resync-s)", spec, exc)
            return _open(self._port, spec, "output")
        try:
            before = JackLink.ports(client)
            name = _open(self._port, spec, "output")
        except BaseException:
            close_jack_client(client)
            raise
        try:
            self._link = JackLink.find(client, before, name)
        except MidiPortError as exc:
            close_jack_client(client)
            logger.info("midi_out.connection_unseen port=%s reason=%s (use /dexbridge/resync or --resync-s)", name, exc)
        return name

    def __enter__(self) -> MidiOutput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, message: bytes) -> None:
        """Send one complete MIDI message.

        Raises:
            MidiPortError: the port is closed, vanished, or refused the message.
        """
        if self.closed:
            raise MidiPortError(f"MIDI output {self.name!r} is closed")
        now = time.monotonic()
        if now - self._checked_at >= self.check_interval_s:
            self._checked_at = now
            self.check()
        if self._paced is not None:
            self._paced.put(message)
        else:
            self._write(message)

    @property
    def backlog(self) -> int:
        """Messages waiting for a later period (``per_period`` pacing); 0 without pacing."""
        return self._paced.backlog if self._paced is not None else 0

    def _write(self, message: bytes) -> None:
        try:
            self._port.send_message(message)
        except (rtmidi.RtMidiError, ValueError, TypeError) as exc:
            self.check()
            raise MidiPortError(f"MIDI output {self.name!r} refused a {len(message)}-byte message: {exc}") from exc

    def check(self) -> None:
        """Raise :class:`MidiPortError` if the named port no longer exists (virtual ports always do)."""
        if self.virtual:
            return
        try:
            present = self.name in self._port.get_ports()
        except rtmidi.RtMidiError as exc:
            raise MidiPortError(f"MIDI output {self.name!r}: cannot list ports ({exc}): is the MIDI system down?") from exc
        if not present:
            raise MidiPortError(f"MIDI output {self.name!r} vanished (the synth quit or the device was unplugged); "
                                "reconnect it and restart, or pick another port")

    def reconnect(self) -> bool:
        """Connect our port to the named port again if JACK dropped the connection (the synth behind
        it restarted under the same name, however fast, or was disconnected by hand).

        Returns True when it did: the synth holds nothing sent before, send it the whole voice. False
        when the connection stands, and always for a virtual port and on ALSA, CoreMIDI and WinMM (or
        without the JACK-Client package), where connections are not seen: there a synth that restarts
        between two checks under the very same port name goes unnoticed (``/dexbridge/resync`` or
        ``--resync-s`` bring it back in step).

        Raises:
            MidiPortError: the named port vanished, or the connection cannot be made again.
        """
        self.check()
        if self._link is None or self._link.connected():
            return False
        self._link.connect()
        logger.info("midi_out.reconnected port=%s from=%s", self.name, self._link.ours)
        return True

    def all_notes_off(self, channels: Iterable[int] = range(16)) -> None:
        """Release every held note on ``channels`` (sustain off, then CC 123).

        Raises:
            MidiPortError: the port is gone.
        """
        for message in all_notes_off_messages(channels):
            self.send(message)

    def close(self) -> None:
        """Close the port (idempotent), after what pacing still holds (at most a second)."""
        if not self.closed:
            self.closed = True
            if self._paced is not None:
                self._paced.flush(1.0)
                self._paced.close()
            self._port.close_port()
            self._port.delete()
            if self._link is not None:
                self._link.close()


class MidiInput:
    """An open input port delivering complete messages to ``handler`` on the event loop.

    rtmidi queues what arrives (no Python on the MIDI system's thread); a drain thread empties the
    queue every :data:`_INPUT_POLL_S` and hands the loop one batch (``loop.call_soon_threadsafe``).
    On the loop, SysEx bytes go through a :class:`SysexAssembler` (reassembly, garbage refused and
    listed by :meth:`take_errors`), other messages straight to ``handler``.

    Args:
        spec: exact name, unique substring, or ``virtual:NAME``.
        handler: called on the loop with each complete message (bytes).
        loop: the event loop (default: the running one).
        api: a ``--midi-api`` value.

    Raises:
        MidiPortError: no such port, an ambiguous name, or the port cannot be opened.
        RuntimeError: no ``loop`` given and none is running.
    """

    def __init__(self, spec: str, handler: Callable[[bytes], None], *, loop: asyncio.AbstractEventLoop | None = None,
                 api: str = "auto") -> None:
        self.loop = loop if loop is not None else asyncio.get_running_loop()
        self.handler = handler
        self._assembler = SysexAssembler()
        self._in_sysex = False
        self._port = rtmidi.MidiIn(midi_api(resolve_api(api) if api == "auto" else api).rtmidi_api, name=CLIENT_NAME,
                                   queue_size_limit=_INPUT_QUEUE_LIMIT)
        self._port.ignore_types(sysex=False, timing=True, active_sense=True)
        self.name = _open(self._port, spec, "input")
        self.closed = False
        self._stop = threading.Event()
        self._drainer = threading.Thread(target=self._drain, name=f"dexbridge-midi-in:{self.name}", daemon=True)
        self._drainer.start()

    def __enter__(self) -> MidiInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _drain(self) -> None:
        """The drain thread: every poll, rtmidi's queue -> one batch on the loop."""
        while not self._stop.wait(_INPUT_POLL_S):
            batch = []
            while (event := self._port.get_message()) is not None:
                batch.append(bytes(event[0]))
            if batch:
                self._hand_over(batch)

    def _hand_over(self, batch: list[bytes]) -> None:
        """Hand raw messages (or SysEx chunks) from a foreign thread to the loop, in order."""
        with contextlib.suppress(RuntimeError):  # the loop closed under a port still open: no one to deliver to
            self.loop.call_soon_threadsafe(self._deliver_batch, batch)

    def _deliver_batch(self, batch: list[bytes]) -> None:
        for data in batch:
            self._deliver(data)

    def _deliver(self, data: bytes) -> None:
        if self.closed or not data:
            return
        first = data[0]
        if first >= 0xF8:  # realtime: allowed inside a SysEx, never part of one
            self.handler(data)
            return
        if first < 0x80 or first in (SYSEX_START, SYSEX_END):  # SysEx, its continuation, or stray data bytes
            messages = self._assembler.feed(data)
            self._in_sysex = _sysex_open_after(data, self._in_sysex)
            for message in messages:
                self.handler(message)
            return
        if self._in_sysex:  # a channel message cut the SysEx short: the assembler records the abort
            self._assembler.feed(data[:1])
            self._in_sysex = False
        self.handler(data)

    @property
    def discarded(self) -> int:
        """Stray data bytes dropped so far (outside any SysEx)."""
        return self._assembler.discarded

    def take_errors(self) -> list[str]:
        """SysEx the assembler dropped since the last call (cut short, oversized)."""
        return self._assembler.take_errors()

    def close(self) -> None:
        """Stop delivering and close the port (idempotent)."""
        if not self.closed:
            self.closed = True
            self._stop.set()
            if self._drainer is not threading.current_thread():
                self._drainer.join()
            self._port.close_port()
            self._port.delete()
