"""Pacing a MIDI port (``--messages-per-period``): a burst spread over JACK periods, in order, nothing
dropped; the writer's thread timing, and the periods a burst really arrives in through JACK."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest
import rtmidi
from jack_helpers import Attempt, attempts

from bridge.midi.jack_server import XrunCounter
from bridge.midi.pacing import PacedWriter, jack_period_s
from bridge.midi.ports import MidiOutput, MidiPortError
from bridge.midi.sysex import encode_param_change


def _changes(count: int) -> list[bytes]:
    return [encode_param_change(index % 155, index % 2) for index in range(count)]


def test_a_burst_goes_out_in_chunks_a_period_apart_in_order() -> None:
    written: list[tuple[float, bytes]] = []
    done = threading.Event()

    def write(message: bytes) -> None:
        written.append((time.monotonic(), message))
        if len(written) == 95:
            done.set()

    writer = PacedWriter(write, per_period=10, period_s=0.02)
    try:
        burst = _changes(95)
        for message in burst:
            writer.put(message)
        assert writer.backlog > 0
        assert done.wait(5.0)
        assert [message for _, message in written] == burst
        starts = [written[i][0] for i in range(0, 95, 10)]
        assert all(later - earlier >= 0.02 for earlier, later in zip(starts, starts[1:], strict=False))
        assert all(written[i + 9][0] - written[i][0] < 0.02 for i in range(0, 90, 10)), "a chunk goes at once"
        assert writer.backlog == 0
    finally:
        writer.close()


def test_an_idle_writer_sends_at_once_and_a_write_failure_reaches_the_sender() -> None:
    times: list[float] = []

    def write(message: bytes) -> None:
        times.append(time.monotonic())
        if message == b"\xf8":
            raise MidiPortError("the port vanished")

    writer = PacedWriter(write, per_period=1, period_s=0.5)
    try:
        sent = time.monotonic()
        writer.put(b"\xfe")
        assert writer.flush(1.0)
        assert times[0] - sent < 0.1, "no period waited after a pause"
        writer.put(b"\xf8")
        deadline = time.monotonic() + 3
        while writer.error is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert writer.backlog == 0
        with pytest.raises(MidiPortError, match="vanished"):
            writer.put(b"\xfe")
    finally:
        writer.close()
    with pytest.raises(ValueError, match="at least 1 message"):
        PacedWriter(write, per_period=0, period_s=0.01)


def test_the_xrun_counter_is_told_of_a_cycle_that_ran_late(jack: str) -> None:
    import jack as jack_client

    with XrunCounter() as xruns:
        late = jack_client.Client(f"late-{os.getpid()}", no_start_server=True)
        stall = threading.Event()
        stall_s = 4 * late.blocksize / late.samplerate + 0.02

        def process(_frames: int) -> None:
            if stall.is_set():
                stall.clear()
                time.sleep(stall_s)

        late.set_process_callback(process)
        late.activate()
        try:
            time.sleep(0.1)
            before = xruns.count
            stall.set()
            deadline = time.monotonic() + 3
            while xruns.count == before and time.monotonic() < deadline:
                time.sleep(0.01)
            assert xruns.count > before
        finally:
            late.deactivate()
            late.close()


async def _periods_of_a_burst(per_period: int | None, count: int) -> list[int]:
    """Send ``count`` parameter changes through a JACK port and group their arrival by JACK period
    (rtmidi stamps each event when JACK's cycle reads it: a gap over half a period starts a new one).

    A burst during which the server reported an xrun is sent again: a cycle that ran late skips
    periods and hands the receiver copies, which says nothing of the pacing (``scripts/measure_midi_loss.py``).
    """
    with XrunCounter() as xruns:
        for attempt in attempts(xruns, "bursts"):
            received, groups = await _burst_through_jack(per_period, count, attempt)
            if attempt.clean:
                break
    assert received == _changes(count)
    return groups


async def _burst_through_jack(per_period: int | None, count: int, attempt: Attempt) -> tuple[list[bytes], list[int]]:
    """What arrived of a burst of ``count`` changes, and how many arrived in each period (``attempt`` counts
    xruns from the burst's first message to its last)."""
    period_s = jack_period_s()
    assert period_s is not None
    name = f"paced-{os.getpid()}-{per_period}"
    output = MidiOutput(f"virtual:{name}", "jack", per_period=per_period)
    port = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="dexbridge-paced-test", queue_size_limit=16384)
    port.ignore_types(sysex=False)
    port.open_port(next(i for i, n in enumerate(port.get_ports()) if n.endswith(f":{name}")))
    try:
        probe = bytes([0xB0, 1, 1])
        for _ in range(100):
            output.send(probe)
            await asyncio.sleep(0.05)
            if port.get_message() is not None:
                break
        await asyncio.sleep(0.2)
        while port.get_message() is not None:
            pass
        burst = _changes(count)
        attempt.restart()
        for message in burst:
            output.send(message)
        received, groups = [], []
        deadline = time.monotonic() + 10
        while len(received) < count and time.monotonic() < deadline:
            while (event := port.get_message()) is not None:
                message, delta = event
                received.append(bytes(message))
                if not groups or (delta > period_s / 2 and len(received) > 1):
                    groups.append(0)
                groups[-1] += 1
            await asyncio.sleep(0.005)
        return received, groups
    finally:
        port.close_port()
        port.delete()
        output.close()


async def test_through_jack_a_paced_burst_never_puts_more_than_n_messages_in_a_period(jack: str) -> None:
    assert max(await _periods_of_a_burst(16, 155)) <= 16
    unpaced = await _periods_of_a_burst(None, 155)
    assert max(unpaced) > 16, f"without pacing the burst shares periods: {unpaced}"
