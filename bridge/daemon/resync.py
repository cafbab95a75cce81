"""When the synth gets the whole voice again without being asked: its port reopened or connected
again, a new connection to our virtual port, or an idle refresh (``--resync-s``).

In ``param`` and ``cc`` modes the daemon sends only what changed, so a synth that restarted holds
the wrong voice until told everything. :class:`OutputWatch` checks the output port every
``interval_s``: a named port that vanished is dropped (reported once) and reopened when it comes
back. A name is not a port: on JACK a synth that restarts under the same name between two checks
(Dexed reloaded, a host restarted) has lost our connection while its name is still listed, so the
connection itself is checked and made again (:meth:`MidiOutput.reconnect`); and a new connection to
a ``virtual:`` port is seen too. Both go through the JACK API (the JACK-Client package; rtmidi
cannot see connections). Either way ``resend`` sends the whole voice the way the active modes
would. On ALSA and CoreMIDI connections are not seen: a named port is checked by name only, and
connections to a virtual port go unnoticed; there ``/dexbridge/resync`` or ``--resync-s`` bring a
synth back in step. :func:`unreached_port` tells ``/dexbridge/resync`` when the named port is not
connected, so it does not claim a voice reached a synth that is gone.

A JACK server that misses a cycle (an xrun: a client, the synth's or ours, not done in time, as
when JACK runs without real-time priority on a busy machine) can lose what was sent in it, and no
client is told what. So on JACK the watch also listens for xruns and, when it is told of one at most
:data:`XRUN_REACH_S` after the whole voice went out (any of the above), sends it again. Other
messages are not repeated: in ``dump`` mode every dump cuts the synth's sounding notes, and a morph's
next step carries what its last one lost.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from bridge.daemon.midi_out import MidiOut
from bridge.daemon.settings import Settings
from bridge.midi.jack_link import close_jack_client, open_jack_client
from bridge.midi.ports import VIRTUAL_PREFIX, MidiOutput, MidiPortError
from bridge.sinks import MidiPortSink

logger = logging.getLogger(__name__)

WATCH_INTERVAL_S = 0.5
XRUN_REACH_S = 1.0
"""An xrun told of this long after the whole voice went out may have lost it: the server's notice reaches
our client's thread late when the process is busy (it waits for Python's lock)."""


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
        self._jack: _JackWatch | None = None
        self._xrun_seen: float | None = None
        self._repair_sent_at: float | None = None

    async def open(self) -> None:
        """Open the watch's JACK client (on JACK): connections and xruns are seen from now on."""
        if self.api == "jack" and self._jack is None:
            self._jack = await asyncio.to_thread(_JackWatch.open, self.spec[len(VIRTUAL_PREFIX):] if self.virtual else None)

    async def run(self) -> None:
        """Check forever (cancel to stop); opens the JACK client first if :meth:`open` was not awaited."""
        await self.open()
        try:
            while True:
                await asyncio.sleep(self.interval_s)
                try:
                    await self.check()
                except Exception:  # one failed check (a JACK error, a bug) must not end the watching
                    logger.exception("midi_out.watch_check_failed spec=%s (the watch goes on)", self.spec)
        finally:
            if self._jack is not None:
                self._jack.close()

    async def check(self) -> None:
        """One check: an xrun as the whole voice went out; new connections on a virtual port; a named port
        vanished, back, or connected again."""
        if self._xrun_after_the_whole_voice():
            self.resend("JACK missed a cycle (an xrun) as the whole voice went out")
            self._repair_sent_at = self.midi_out.resynced_at  # once: an xrun after the repair does not repeat it
        if self.virtual:
            new = self._jack.new_peers() if self._jack is not None else []
            if new:
                self.resend(f"{', '.join(new)} connected to {self.spec}")
            return
        sink = _port_sink(self.midi_out)
        if sink is not None:
            if _reconnected(self.midi_out, sink):
                self.resend(f"MIDI output {sink.output.name!r} connected again (it restarted)")
            return
        try:
            output = await asyncio.to_thread(lambda: MidiOutput(self.spec, self.api, per_period=self.per_period))
        except MidiPortError:
            return  # still gone
        self.midi_out.sinks.append(MidiPortSink(output))
        logger.info("midi_out.reopened port=%s", output.name)
        self.resend(f"MIDI output {output.name!r} is back")

    def _xrun_after_the_whole_voice(self) -> bool:
        """Whether the server told of an xrun, not seen before, at most :data:`XRUN_REACH_S` after the whole voice
        went out (or before it: the notice may come late), unless that was this watch's repair: on a machine
        that misses cycles all the time, each voice is repeated once, not every half second."""
        at = self._jack.xrun_at if self._jack is not None else None
        if at is None or at == self._xrun_seen:
            return False
        self._xrun_seen = at
        whole = self.midi_out.resynced_at
        return whole >= at - XRUN_REACH_S and whole != self._repair_sent_at


def _port_sink(midi_out: MidiOut) -> MidiPortSink | None:
    return next((sink for sink in midi_out.sinks if isinstance(sink, MidiPortSink)), None)


def _reconnected(midi_out: MidiOut, sink: MidiPortSink) -> bool:
    """Whether ``sink``'s port had lost its connection and has it again (:meth:`MidiOutput.reconnect`);
    a port that vanished, or cannot be connected again, is dropped from ``midi_out`` (reported once)."""
    try:
        return sink.output.reconnect()
    except MidiPortError as exc:
        midi_out.drop(sink, exc)
        return False


def unreached_port(settings: Settings, outputs: Sequence[object]) -> str | None:
    """Why what is sent now would not reach the named ``--midi-out`` port, in words ("MIDI output ...
    is not connected"), or None when it would (or no named port is used). A connection JACK dropped
    is made again first; a port that vanished is dropped (reported once) and reopened by
    :class:`OutputWatch` when it is back.

    A virtual port counts as reached, and so does a named port on ALSA or CoreMIDI while its name is
    listed: their connections are not seen.
    """
    spec = settings.midi_out
    if spec is None or "midi" not in settings.sink or spec.startswith(VIRTUAL_PREFIX):
        return None
    for midi_out in (output for output in outputs if isinstance(output, MidiOut)):
        sink = _port_sink(midi_out)
        if sink is not None:
            _reconnected(midi_out, sink)
        if _port_sink(midi_out) is None:
            return f"MIDI output {spec!r} is not connected"
    return None


class _JackWatch:
    """A JACK client of the watch's own, active so that the server tells it of xruns (an inactive
    client is not told): when the last one came, and the ports connected to our virtual output.

    Args:
        client: an open ``jack.Client``, not yet active.
        port_pattern: our virtual output's JACK name as a regular expression, or None for a named output.
    """

    def __init__(self, client: Any, port_pattern: str | None) -> None:
        self.client = client
        self.port_pattern = port_pattern
        self.xrun_at: float | None = None
        client.set_xrun_callback(self._xrun)
        client.activate()
        self.known: set[str] = set(self._peers())

    @classmethod
    def open(cls, virtual_name: str | None) -> _JackWatch | None:
        """A watcher, or None (logged) when the JACK-Client package or the server is unavailable."""
        try:
            client = open_jack_client("dexbridge-watch", "to see connections and xruns")
        except MidiPortError as exc:  # connections and xruns cannot be seen, resync still can
            logger.info("midi_out.connections_unseen reason=%s (use /dexbridge/resync or --resync-s)", exc)
            return None
        pattern = None if virtual_name is None else f"^dexbridge[^:]*:{re.escape(virtual_name)}$"
        try:
            return cls(client, pattern)
        except Exception as exc:  # jack.JackError: the server refused to activate it
            close_jack_client(client)
            logger.info("midi_out.connections_unseen reason=cannot activate a JACK client (%s)", exc)
            return None

    def _xrun(self, delay_usecs: float) -> None:  # on the client's notification thread
        self.xrun_at = time.monotonic()

    def _peers(self) -> list[str]:
        if self.port_pattern is None:
            return []
        peers = []
        for port in self.client.get_ports(self.port_pattern, is_midi=True, is_output=True):
            peers += [peer.name for peer in self.client.get_all_connections(port)]
        return peers

    def new_peers(self) -> list[str]:
        """Ports connected to our virtual output since the last call."""
        now = set(self._peers())
        new, self.known = sorted(now - self.known), now
        return new

    def close(self) -> None:
        close_jack_client(self.client)


async def refresh_when_idle(midi_out: MidiOut, resend: Callable[[str], None], every_s: float) -> None:
    """Send the whole voice again whenever nothing went out for ``every_s`` seconds (``--resync-s``)."""
    while True:
        idle = time.monotonic() - midi_out.last_sent_at
        if idle >= every_s:
            resend(f"idle refresh after {every_s:g} s")
            await asyncio.sleep(every_s)
        else:
            await asyncio.sleep(every_s - idle)
