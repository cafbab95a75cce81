"""Helpers for tests that talk through JACK MIDI ports (imported by module name: tests have no package)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from types import TracebackType

import pytest

from bridge.midi.jack_server import XrunCounter
from bridge.midi.sysex import encode_dump_request

ATTEMPTS = 5
"""Attempts of an exchange through JACK before giving up on one the server carried without an xrun."""


class Attempt:
    """One attempt of an exchange through JACK, a context manager: it is clean when the server reported no xrun
    from its start (:meth:`restart` moves the start past a setup) to now. A failed check or a timeout inside it is
    swallowed where it was not clean: a cycle that ran late loses or repeats what it carried
    (``scripts/measure_midi_loss.py``), which says nothing of the code under test."""

    def __init__(self, xruns: XrunCounter) -> None:
        self.xruns = xruns
        self.since = xruns.count

    def restart(self) -> None:
        """Count xruns from here (after a setup that may cause some, a port opening)."""
        self.since = self.xruns.count

    @property
    def clean(self) -> bool:
        """No xrun since the attempt's start."""
        return self.xruns.count == self.since

    def __enter__(self) -> Attempt:
        self.restart()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> bool:
        return kind is not None and issubclass(kind, (AssertionError, TimeoutError)) and not self.clean


def attempts(xruns: XrunCounter, what: str) -> Iterator[Attempt]:
    """Up to :data:`ATTEMPTS` attempts of an exchange (``what``, plural, for the message); the caller stops at the
    first clean one, so code after the loop runs after a clean attempt only: when every attempt had an xrun, this
    raises an AssertionError saying the machine is too busy to test."""
    late = []
    for _ in range(ATTEMPTS):
        attempt = Attempt(xruns)
        yield attempt
        late.append(xruns.count - attempt.since)
    raise AssertionError(f"the JACK server had xruns during each of {ATTEMPTS} {what} ({late}): "
                         "the machine is too busy to test")


async def wait_until_connected(send: Callable[[bytes], None], queue: asyncio.Queue[bytes]) -> None:
    """Send probes until one arrives (a JACK connection carries nothing until the server made it),
    then let late probes arrive and drop them."""
    probe = encode_dump_request("voice", channel=15)
    for _ in range(50):
        send(probe)
        try:
            await asyncio.wait_for(queue.get(), 0.1)
            break
        except TimeoutError:
            continue
    else:
        pytest.fail("the JACK connection carried nothing")
    await asyncio.sleep(0.2)
    while not queue.empty():
        assert queue.get_nowait() == probe
