"""A JACK client of our own, through the JACK-Client package (``jack.Client``): the one place one is opened.

rtmidi writes MIDI through JACK but cannot see connections, ports or the server's period; a client of
our own can. It never starts a server: with none running, :func:`open_jack_client` says so.
"""

from __future__ import annotations

from typing import Any

from models.errors import MidiPortError


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
