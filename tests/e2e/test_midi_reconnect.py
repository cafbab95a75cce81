"""A synth behind a named ``--midi-out`` port that restarts faster than the daemon looks (Dexed
reloaded, a host restarted): JACK drops the daemon's connection when the synth's port goes, and a
new port of the same name is not connected to anything. Through a real JACK server, the daemon must
connect again and send the whole voice, unasked and on ``/dexbridge/resync``, and
``/dexbridge/resync`` must say so when the voice reached no port. A cycle JACK misses (an xrun) as
the whole voice goes out may have lost it: the daemon sends it again, and only then. A check that
fails is logged and the watching goes on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import jack
import pytest
import rtmidi
from daemon_harness import daemon_settings, run_daemon
from osc_client import OscClient

from bridge.daemon.lifecycle import Daemon
from bridge.daemon.midi_out import MidiOut
from bridge.daemon.resync import XRUN_REACH_S, OutputWatch
from bridge.daemon.settings import Settings
from bridge.midi.ports import MidiOutput
from bridge.midi.sysex import encode_voice_dump
from bridge.sinks import MidiPortSink
from engine.runtime import Engine

pytestmark = pytest.mark.jack
TIMEOUT_S = 5.0


def _start_synth(name: str) -> rtmidi.MidiIn:
    """A synth's MIDI input, holding nothing yet: a new JACK client with an input port ``name``."""
    port = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="dexbridge-synth", queue_size_limit=16384)
    port.ignore_types(sysex=False, timing=True, active_sense=True)
    port.open_virtual_port(name)
    return port


def _stop_synth(port: rtmidi.MidiIn) -> None:
    port.close_port()
    port.delete()


async def _received(port: rtmidi.MidiIn, timeout_s: float = TIMEOUT_S, quiet_s: float = 0.3) -> list[bytes]:
    """What arrives within ``timeout_s``; once something has, until nothing more has for ``quiet_s``."""
    loop = asyncio.get_running_loop()
    messages: list[bytes] = []
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        if (message := port.get_message()) is not None:
            messages.append(bytes(message[0]))
            deadline = loop.time() + quiet_s
        else:
            await asyncio.sleep(0.005)
    return messages


@dataclass
class Rig:
    """A daemon in dump mode sending to the synth's port by name, and an OSC client of it."""

    daemon: Daemon
    client: OscClient
    name: str
    synth: rtmidi.MidiIn | None

    def stop_synth(self) -> None:
        """The synth quits: its port goes with its JACK client."""
        if self.synth is not None:
            _stop_synth(self.synth)
            self.synth = None

    def start_synth(self) -> rtmidi.MidiIn:
        """The synth starts (again) under the same port name, holding nothing."""
        self.synth = _start_synth(self.name)
        return self.synth

    def whole_voice(self) -> bytes:
        assert self.daemon.session is not None
        return encode_voice_dump(self.daemon.session.state.voice)

    def got_the_voice(self, received: list[bytes]) -> bool:
        """The whole voice came, and nothing else (twice when JACK missed a cycle as it went out: it is sent again)."""
        return bool(received) and set(received) == {self.whole_voice()}


@asynccontextmanager
async def _rig(tiny_engine: Engine) -> AsyncIterator[Rig]:
    name = f"restarting-{os.getpid()}"
    settings = daemon_settings(mode=("dump",), sink=("midi",), midi_out=name, midi_api="jack")
    synth = _start_synth(name)
    try:
        async with run_daemon(settings, tiny_engine) as daemon:
            rig = Rig(daemon, await OscClient().open("127.0.0.1", daemon.osc_port), name, synth)
            try:
                assert rig.got_the_voice(await _received(synth)), "the voice sent when the port opened"
                yield rig
            finally:
                rig.client.close()
                synth = rig.synth
    finally:
        if synth is not None:
            _stop_synth(synth)


class XrunMaker:
    """A JACK client whose next cycle, when asked, takes four periods and more: the server misses it (an
    xrun). It counts the xruns it is told of, its own and any other."""

    def __init__(self) -> None:
        self.client = jack.Client(f"xrun-maker-{os.getpid()}", no_start_server=True)
        self.told = 0
        self._stall = threading.Event()
        stall_s = 4 * self.client.blocksize / self.client.samplerate + 0.02

        def process(frames: int) -> None:
            if self._stall.is_set():
                self._stall.clear()
                time.sleep(stall_s)

        def xrun(delay_usecs: float) -> None:
            self.told += 1

        self.client.set_process_callback(process)
        self.client.set_xrun_callback(xrun)
        self.client.activate()

    def make(self) -> None:
        """Stall the next cycle."""
        self._stall.set()

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


@contextmanager
def _xrun_maker() -> Iterator[XrunMaker]:
    maker = XrunMaker()
    try:
        yield maker
    finally:
        maker.close()


async def test_a_synth_restarted_between_two_checks_gets_the_whole_voice_unasked(jack: str, tiny_engine: Engine) -> None:
    """The name never leaves the port list, yet the new synth is connected again and sent the voice, each time."""
    async with _rig(tiny_engine) as rig:
        for _ in range(2):
            rig.stop_synth()
            synth = rig.start_synth()
            assert rig.got_the_voice(await _received(synth))


async def test_resync_right_after_a_restart_reaches_the_new_synth(jack: str, tiny_engine: Engine) -> None:
    """``/dexbridge/done`` means the new synth got the voice, even before the half-second check."""
    async with _rig(tiny_engine) as rig:
        rig.stop_synth()
        synth = rig.start_synth()
        rig.client.send("/dexbridge/resync")
        assert (await rig.client.until("/dexbridge/done"))[0] == "/dexbridge/resync"
        assert rig.got_the_voice(await _received(synth))


async def test_resync_says_the_voice_reached_no_port_while_the_synth_is_gone(jack: str, tiny_engine: Engine) -> None:
    """No "sent whole" while the port is gone: ``/dexbridge/error`` says so, and the synth gets the voice when back."""
    async with _rig(tiny_engine) as rig:
        rig.client.send("/dexbridge/ping")  # errors are broadcast to clients the daemon has heard from
        await rig.client.until("/dexbridge/pong")
        rig.stop_synth()
        (error,) = await rig.client.until("/dexbridge/error")
        assert "vanished" in error
        rig.client.send("/dexbridge/resync")
        (error,) = await rig.client.expect("/dexbridge/error", skip=("/dexbridge/voice",))
        assert rig.name in error and "not connected" in error and "when it is back" in error
        synth = rig.start_synth()
        assert rig.got_the_voice(await _received(synth))


async def test_an_xrun_as_the_voice_goes_out_sends_it_again(jack: str, tiny_engine: Engine,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """JACK misses a cycle right after a resync went out: the synth gets the whole voice again, unasked;
    once: an xrun right after that repair is not repaired again (a machine that misses cycles all the
    time would get the voice every half second)."""
    caplog.set_level(logging.INFO, logger="bridge.daemon.session")
    async with _rig(tiny_engine) as rig:
        with _xrun_maker() as maker:
            assert rig.synth is not None
            rig.client.send("/dexbridge/resync")
            await rig.client.until("/dexbridge/done")
            before = len(_xrun_resends(caplog))  # JACK may have missed a cycle of its own at start
            maker.make()
            received = await _received(rig.synth, quiet_s=0.1)
            deadline = time.monotonic() + TIMEOUT_S
            while len(_xrun_resends(caplog)) == before:
                assert time.monotonic() < deadline, "no repair after the xrun"
                await asyncio.sleep(0.01)
            received += await _received(rig.synth, quiet_s=0.1)
            assert rig.got_the_voice(received)
            maker.make()
            assert await _received(rig.synth, timeout_s=2.0) == []
    assert len(_xrun_resends(caplog)) == before + 1


async def test_an_xrun_long_after_the_last_message_sends_nothing(jack: str, tiny_engine: Engine,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """An xrun over a second after the whole voice went out lost nothing: nothing is sent. Waited for again (up
    to 15 times) while JACK missed cycles of its own meanwhile, as a server without real-time priority does."""
    caplog.set_level(logging.INFO, logger="bridge.daemon.session")
    async with _rig(tiny_engine) as rig:
        with _xrun_maker() as maker:
            assert rig.synth is not None
            for _ in range(15):
                maker.told = 0
                await asyncio.sleep(XRUN_REACH_S + 0.6)  # past a resend for an xrun told of before
                if maker.told == 0:  # none meanwhile, so no resend on its way
                    break
            else:
                pytest.fail("JACK missed cycles of its own in every try")
            while rig.synth.get_message() is not None:
                pass
            before = len(_xrun_resends(caplog))
            maker.make()
            received = await _received(rig.synth, timeout_s=2.0)
    assert received == [] and len(_xrun_resends(caplog)) == before


def _xrun_resends(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    reason = "JACK missed a cycle (an xrun) as the whole voice went out"
    return [record for record in caplog.records if reason in record.getMessage()]



def _connect(source_port: str, target_port: str) -> None:
    """Connect two JACK ports by the ends of their names, as a patchbay would."""
    client = jack.Client(f"patchbay-{os.getpid()}", no_start_server=True)
    try:
        (source,) = client.get_ports(f":{source_port}$", is_midi=True, is_output=True)
        (target,) = client.get_ports(f":{target_port}$", is_midi=True, is_input=True)
        client.connect(source, target)
    finally:
        client.close()


async def test_the_watch_goes_on_after_a_check_fails(jack: str) -> None:
    """A check that raises (here the resend, the first time) is logged; the next connection is still seen."""
    name = f"watched-{os.getpid()}"
    midi_out = MidiOut(Settings(), [MidiPortSink(MidiOutput(f"virtual:{name}", "jack"))], lambda exc: None)
    reasons: list[str] = []

    def resend(reason: str) -> None:
        reasons.append(reason)
        if len(reasons) == 1:
            raise RuntimeError("a resend that fails")

    watch = OutputWatch(f"virtual:{name}", "jack", midi_out, resend, interval_s=0.05)
    await watch.open()
    task = asyncio.get_running_loop().create_task(watch.run())
    synths: list[rtmidi.MidiIn] = []
    try:
        for n in range(2):
            synths.append(_start_synth(f"{name}-in-{n}"))
            _connect(name, f"{name}-in-{n}")
            deadline = time.monotonic() + TIMEOUT_S
            while len(reasons) <= n:
                assert time.monotonic() < deadline and not task.done(), f"the watch stopped after {reasons}"
                await asyncio.sleep(0.01)
        assert all("connected to" in reason for reason in reasons)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for synth in synths:
            _stop_synth(synth)
        for sink in midi_out.sinks:
            sink.close()
