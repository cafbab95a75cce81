"""Helpers for tests that talk through JACK MIDI ports (imported by module name: tests have no package)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bridge.midi.sysex import encode_dump_request


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
