"""Voices -> MIDI messages per output mode -> every sink, paced by one shared byte budget.

``param`` queues SysEx parameter changes and ``cc`` learned CCs (both :class:`ParamStream`:
changed parameters only, latest wins); ``dump`` sends a 163-byte voice dump once the voice has
been still for ``dump_debounce_ms`` (and, with ``dump_wait_notes``, no note is held: Dexed cuts
sounding notes on a dump). A pump task drains the queues at the control rate within the budget;
a new voice pumps at once, so the first byte leaves without waiting for a tick. A sink that fails
(a port that vanished) is reported once, closed and dropped; the others go on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from bridge.daemon.settings import Settings
from bridge.midi.cc_map import CcMap, load_cc_map
from bridge.midi.param_stream import ByteBudget, ParamStream, SysexParamEncoder
from bridge.midi.sysex import VOICE_DUMP_SIZE, encode_voice_dump
from bridge.sinks import Sink
from models.voice import Voice

logger = logging.getLogger(__name__)

BURST_BYTES = VOICE_DUMP_SIZE  # the bucket holds one voice dump: a dump can always go out whole


class MidiOut:
    """The MIDI side of the bridge: one per daemon, feeding every sink the same bytes.

    Args:
        settings: modes, channel, byte budget, control rate, dump options, CC map file.
        sinks: open sinks (ports, embedded synth, DawDreamer).
        report: called with an exception a sink raised (the daemon answers ``/dexbridge/error``).
        held_notes: how many notes are held now (MIDI in's count) for ``dump_wait_notes``.
    """

    def __init__(self, settings: Settings, sinks: Sequence[Sink], report: Callable[[BaseException], None],
                 held_notes: Callable[[], int] = lambda: 0) -> None:
        self.settings = settings
        self.sinks = list(sinks)
        self.report = report
        self.held_notes = held_notes
        self.modes = settings.mode
        self.cc_map = load_cc_map(settings.cc_map) if settings.cc_map else CcMap.default(settings.midi_channel)
        self.budget = ByteBudget(settings.bytes_per_second, burst_bytes=BURST_BYTES)
        channel = settings.midi_channel
        self.streams = {
            "param": ParamStream(encoder=SysexParamEncoder(channel), budget=self.budget),
            "cc": ParamStream(encoder=self.cc_map, budget=self.budget),
        }
        self.sent_bytes = 0
        self.last_sent_at = time.monotonic()  # when a message last went out (the idle refresh counts from it)
        self.resynced_at = float("-inf")  # when the whole voice last went out (:meth:`resync`)
        self._dump: Voice | None = None
        self._dump_due = 0.0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the pump task on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="dexbridge-midi-out")

    def set_modes(self, modes: Sequence[str]) -> None:
        """Switch output modes; what a mode switched off had queued waits until it is on again."""
        self.modes = tuple(modes)
        if "dump" not in self.modes:
            self._dump = None
        self._wake.set()

    def send_voice(self, voice: Voice) -> None:
        """Queue what each active mode sends for ``voice`` and pump at once."""
        for mode, stream in self.streams.items():
            if mode in self.modes:
                stream.update(voice)
        if "dump" in self.modes:
            self._dump = voice
            self._dump_due = time.monotonic() + self.settings.dump_debounce_ms / 1000.0
        self._pump()
        self._wake.set()

    def resync(self, voice: Voice) -> None:
        """Send the whole of ``voice`` the way the active modes would (a dump at once, or every parameter
        as changes or learned CCs), for a synth that lost its state."""
        self.resynced_at = time.monotonic()
        for mode, stream in self.streams.items():
            if mode in self.modes:
                stream.forget_synth()
                stream.update(voice)
        if "dump" in self.modes:
            self._dump, self._dump_due = voice, 0.0
        self._pump()
        self._wake.set()

    def send_dump(self, voice: Voice) -> None:
        """Send ``voice`` as a single voice dump now, whatever the modes (the answer to a dump request)."""
        self._deliver(encode_voice_dump(voice, self.settings.midi_channel))
        for stream in self.streams.values():
            stream.assume_synth_holds(voice)

    def send_note(self, message: bytes) -> None:
        """Pass a channel message (note, bend, pressure) straight to every sink."""
        self._deliver(message)

    def all_notes_off(self) -> None:
        """Release every note on every sink."""
        for sink in list(self.sinks):
            try:
                sink.all_notes_off()
            except Exception as exc:  # a vanished port: report, the rest still get theirs
                self.drop(sink, exc)

    async def aclose(self) -> None:
        """Stop the pump, send what the budget allows within a second, close every sink."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        deadline = time.monotonic() + 1.0
        while self.pending and time.monotonic() < deadline:
            self._pump(force_dump=True)
            await asyncio.sleep(0.01)
        for sink in self.sinks:
            sink.close()
        self.sinks.clear()

    def status(self) -> dict[str, object]:
        """Sinks, modes, bytes sent and still queued (for ``/dexbridge/status``)."""
        return {"sinks": [sink.name for sink in self.sinks], "modes": list(self.modes), "sent_bytes": self.sent_bytes,
                "pending": self.pending, "bytes_per_second": self.settings.bytes_per_second}

    def embedded_synth(self) -> Sink | None:
        """The first embedded dexed-py synth among the sinks (``/dexbridge/note`` plays on it), or None."""
        from bridge.sinks.embedded import EmbeddedSynth  # sounddevice scans audio devices on import: not before needed

        return next((sink for sink in self.sinks if isinstance(sink, EmbeddedSynth)), None)

    @property
    def pending(self) -> int:
        """Messages still queued (parameter changes, and a dump)."""
        return sum(stream.pending for mode, stream in self.streams.items() if mode in self.modes) + (self._dump is not None)

    async def _run(self) -> None:
        period = 1.0 / self.settings.control_rate
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.pending:
                await asyncio.sleep(period)
                self._pump()

    def _pump(self, *, force_dump: bool = False) -> None:
        if any(sink.backlog for sink in self.sinks):
            return  # a paced port still sends the last burst: the queues keep coalescing (latest wins) meanwhile
        now = time.monotonic()
        if self._dump is not None and (force_dump or (now >= self._dump_due and not self._notes_block())):
            self._send_dump(self._dump, now)
        for mode, stream in self.streams.items():
            if mode in self.modes:
                for message in stream.take(now):
                    self._deliver(message)

    def _notes_block(self) -> bool:
        return self.settings.dump_wait_notes and self.held_notes() > 0

    def _send_dump(self, voice: Voice, now: float) -> None:
        message = encode_voice_dump(voice, self.settings.midi_channel)
        self.budget.refill(now)
        if not self.budget.spend(len(message)):
            return  # the bucket refills: the next tick sends it
        self._dump = None
        self._deliver(message)
        for stream in self.streams.values():  # the synth now holds the whole voice
            stream.assume_synth_holds(voice)

    def _deliver(self, message: bytes) -> None:
        self.sent_bytes += len(message)
        self.last_sent_at = time.monotonic()
        for sink in list(self.sinks):
            try:
                sink.send(message)
            except Exception as exc:
                self.drop(sink, exc)

    def drop(self, sink: Sink, exc: BaseException) -> None:
        """Report ``exc``, close ``sink`` and send it nothing more."""
        logger.warning("midi_out.sink_dropped sink=%s error=%s", sink.name, exc)
        self.sinks.remove(sink)
        try:
            sink.close()
        except Exception as close_error:  # already gone: nothing more to release
            logger.info("midi_out.close_failed sink=%s error=%s", sink.name, close_error)
        self.report(exc)
