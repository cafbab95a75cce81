"""When the synth gets the whole voice again without being asked: its port reopened, a new connection
to our virtual port, or an idle refresh (``--resync-s``).

In ``param`` and ``cc`` modes the daemon sends only what changed, so a synth that restarted holds
the wrong voice until told everything. :class:`OutputWatch` checks the output port every
``interval_s``: a named port that vanished is dropped (reported once) and reopened when it comes
back; on JACK, a new connection to a ``virtual:`` port is seen through the JACK API (the
JACK-Client package; rtmidi cannot see connections). Either way ``resend`` sends the whole voice
the way the active modes would. ALSA and CoreMIDI connections to a virtual port are not seen:
there ``/dexbridge/resync`` or ``--resync-s`` bring a synth back in step.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from bridge.daemon.midi_out import MidiOut
from bridge.midi.ports import VIRTUAL_PREFIX, MidiOutput, MidiPortError
from bridge.sinks import MidiPortSink

logger = logging.getLogger(__name__)

WATCH_INTERVAL_S = 0.5


class OutputWatch:
    """Keeps the ``midi`` sink's port open and the synth behind it in step.

    Args:
        spec: the ``--midi-out`` value (a name, a part of one, or ``virtual:NAME``).
        api: the resolved ``--midi-api``.
        midi_out: the daemon's MIDI output (its sinks are dropped and added here).
        resend: sends the whole current voice; called with the reason, in words.
        interval_s: how often the port is checked.
        per_period: the port's pacing when reopened (``--messages-per-period``).
    """

    def __init__(self, spec: str, api: str, midi_out: MidiOut, resend: Callable[[str], None],
                 interval_s: float = WATCH_INTERVAL_S, per_period: int | None = None) -> None:
        self.spec = spec
        self.per_period = per_period
        self.api = api
        self.midi_out = midi_out
        self.resend = resend
        self.interval_s = interval_s
        self.virtual = spec.startswith(VIRTUAL_PREFIX)
        self._connections: _JackConnections | None = None

    async def run(self) -> None:
        """Check forever (cancel to stop)."""
        if self.virtual and self.api == "jack":
            self._connections = _JackConnections.open(self.spec[len(VIRTUAL_PREFIX):])
        try:
            while True:
                await asyncio.sleep(self.interval_s)
                await self.check()
        finally:
            if self._connections is not None:
                self._connections.close()

    async def check(self) -> None:
        """One check: new connections on a virtual port; a named port vanished or back."""
        if self._connections is not None:
            new = self._connections.new_peers()
            if new:
                self.resend(f"{', '.join(new)} connected to {self.spec}")
            return
        if self.virtual:
            return
        sink = self._sink()
        if sink is not None:
            try:
                sink.output.check()
            except MidiPortError as exc:
                self.midi_out.drop(sink, exc)
            return
        try:
            output = await asyncio.to_thread(lambda: MidiOutput(self.spec, self.api, per_period=self.per_period))
        except MidiPortError:
            return  # still gone
        self.midi_out.sinks.append(MidiPortSink(output))
        logger.info("midi_out.reopened port=%s", output.name)
        self.resend(f"MIDI output {output.name!r} is back")

    def _sink(self) -> MidiPortSink | None:
        return next((sink for sink in self.midi_out.sinks if isinstance(sink, MidiPortSink)), None)


class _JackConnections:
    """The ports connected to our virtual JACK output, seen through a JACK client of its own."""

    def __init__(self, client: Any, port_pattern: str) -> None:
        self.client = client
        self.port_pattern = port_pattern
        self.known: set[str] = set(self._peers())

    @classmethod
    def open(cls, virtual_name: str) -> _JackConnections | None:
        """A watcher, or None (logged) when the JACK-Client package or the server is unavailable."""
        try:
            import jack

            client = jack.Client("dexbridge-watch", no_start_server=True)
        except Exception as exc:  # no libjack, no server: connections cannot be seen, resync still can
            logger.info("midi_out.connections_unseen reason=%s (use /dexbridge/resync or --resync-s)", exc)
            return None
        return cls(client, f"^dexbridge[^:]*:{re.escape(virtual_name)}$")

    def _peers(self) -> list[str]:
        peers = []
        for port in self.client.get_ports(self.port_pattern, is_midi=True, is_output=True):
            peers += [peer.name for peer in self.client.get_all_connections(port)]
        return peers

    def new_peers(self) -> list[str]:
        """Ports connected since the last call."""
        now = set(self._peers())
        new, self.known = sorted(now - self.known), now
        return new

    def close(self) -> None:
        self.client.close()


async def refresh_when_idle(midi_out: MidiOut, resend: Callable[[str], None], every_s: float) -> None:
    """Send the whole voice again whenever nothing went out for ``every_s`` seconds (``--resync-s``)."""
    while True:
        idle = time.monotonic() - midi_out.last_sent_at
        if idle >= every_s:
            resend(f"idle refresh after {every_s:g} s")
            await asyncio.sleep(every_s)
        else:
            await asyncio.sleep(every_s - idle)
