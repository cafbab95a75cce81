"""A JACK client of our own, through the JACK-Client package (``jack.Client``): the one place one is opened,
and the connection of a named output it watches and makes again (:class:`JackLink`).

rtmidi writes MIDI through JACK but cannot see connections, ports or the server's period; a client of
our own can. It never starts a server: with none running, :func:`open_jack_client` says so.

A connection JACK has made is not yet one it plays through: the server records it for its next graph and
switches graphs at the start of a process cycle, a period later or more on a busy machine, and a client
running late may still be writing a cycle of the old graph. What is sent meanwhile goes nowhere. Connections
are reported once they are in the graph JACK plays, so :meth:`JackLink.connect` and :meth:`JackLink.find`
wait until they see theirs, then :data:`SETTLE_PERIODS` periods more (``scripts/measure_reconnect_loss.py``:
a note sent right after a reconnect, server not real-time, three busy processes, 256 frames: 4 and 13 of
600 lost when the connection was only made; 1 and 1 once it was seen; none in 1 200 with the periods after).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from bridge.midi.systems import CLIENT_NAME
from models.errors import MidiPortError

logger = logging.getLogger(__name__)

CLOSE_WAIT_S = 2.0
"""How long closing a JACK client may take before the caller goes on without it."""


def open_jack_client(name: str, purpose: str) -> Any:
    """A client of the running JACK server, named ``name``; close it when done.

    Args:
        name: the client's name in the JACK graph.
        purpose: what it is for, as the error says it (``"to see connections"``).

    Raises:
        MidiPortError: no JACK-Client package, no libjack, or no server running
            (``cannot open a JACK client <purpose> (<why>)``).
    """
    try:
        import jack

        return jack.Client(name, no_start_server=True)
    except Exception as exc:  # ImportError, OSError (no libjack), jack.JackOpenError (no server)
        raise MidiPortError(f"cannot open a JACK client {purpose} ({exc})") from exc


def close_jack_client(client: Any) -> None:
    """Close a JACK client, waiting at most :data:`CLOSE_WAIT_S`: libjack's close can deadlock with the client's
    own notification thread when a port it watched has just gone (seen once in the tests: a synth that quit), and
    the caller (the event loop, a writer) must go on. A close that does not finish is logged and left behind."""
    closing = threading.Thread(target=client.close, name="jack-client-close", daemon=True)
    closing.start()
    closing.join(CLOSE_WAIT_S)
    if closing.is_alive():
        logger.warning("jack.close_stuck client=%s waited_s=%g (left behind)", getattr(client, "name", "?"), CLOSE_WAIT_S)


GRAPH_WAIT_S = 0.5
"""How long a new connection may take to reach the graph JACK plays (one period when the server keeps up)."""
SETTLE_PERIODS = 2
"""Periods waited once it has, for a client still writing a cycle of the old graph."""
_POLL_S = 0.001


RTMIDI_OUTPUTS = f"^{re.escape(CLIENT_NAME)}(-[0-9]+)?:{re.escape(CLIENT_NAME)}$"
"""The JACK ports our named outputs write through: rtmidi's client (``dexbridge``, ``dexbridge-01`` when
taken) and the port it registers (``dexbridge``)."""


class JackLink:
    """The JACK connection from our output port to the named port, seen and made again through a
    JACK client of our own (rtmidi cannot see connections).

    Args:
        client: a ``jack.Client`` (closed by :meth:`close`).
        ours: our output port's full JACK name.
        target: the named port's full JACK name.
    """

    def __init__(self, client: Any, ours: str, target: str) -> None:
        self.client = client
        self.ours = ours
        self.target = target

    @staticmethod
    def ports(client: Any) -> set[str]:
        """The output ports rtmidi registered for named outputs, in any process (see :meth:`find`)."""
        return {port.name for port in client.get_ports(RTMIDI_OUTPUTS, is_midi=True, is_output=True)}

    @classmethod
    def find(cls, client: Any, before: set[str], target: str) -> JackLink:
        """The link of the output port that appeared since ``before`` and is connected to ``target``,
        once JACK plays through that connection (at most :data:`GRAPH_WAIT_S`).

        Raises:
            MidiPortError: no such port, or several (another process opened one at the same moment).
        """
        new = [cls(client, name, target) for name in sorted(cls.ports(client) - before)]
        if new:
            _until(lambda: any(link.connected() for link in new), client)
        ours = [link for link in new if link.connected()]
        if len(ours) != 1:
            raise MidiPortError(f"cannot tell our JACK port to {target!r} among {[link.ours for link in new] or 'none'}")
        return ours[0]

    def connected(self) -> bool:
        """Whether our port is connected to the named port.

        Raises:
            MidiPortError: our port is gone (the JACK server stopped).
        """
        try:
            return self.target in {port.name for port in self.client.get_all_connections(self.ours)}
        except Exception as exc:  # jack.JackError
            raise MidiPortError(f"MIDI output {self.target!r}: cannot see its JACK connection ({exc})") from exc

    def connect(self) -> None:
        """Connect our port to the named port and return once JACK plays through the connection, so what
        is sent next reaches it.

        Raises:
            MidiPortError: JACK refused (either port is gone), or did not play through the connection
                within :data:`GRAPH_WAIT_S` (the server is stalled).
        """
        try:
            self.client.connect(self.ours, self.target)
        except Exception as exc:  # jack.JackError
            raise MidiPortError(f"MIDI output {self.target!r}: cannot connect {self.ours!r} to it ({exc})") from exc
        if not _until(self.connected, self.client):
            raise MidiPortError(f"MIDI output {self.target!r}: JACK made the connection from {self.ours!r} but did not "
                                f"play through it within {GRAPH_WAIT_S:g} s (is the JACK server stalled?)")

    def close(self) -> None:
        """Close its JACK client (:func:`close_jack_client`)."""
        close_jack_client(self.client)


def _until(seen: Callable[[], bool], client: Any) -> bool:
    """Wait until ``seen()`` (a connection in the graph JACK plays), at most :data:`GRAPH_WAIT_S`, then
    :data:`SETTLE_PERIODS` of ``client``'s server more; whether it was seen."""
    deadline = time.monotonic() + GRAPH_WAIT_S
    while not seen():
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)
    time.sleep(SETTLE_PERIODS * client.blocksize / client.samplerate)
    return True
