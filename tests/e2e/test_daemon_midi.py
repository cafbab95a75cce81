"""End to end through real JACK MIDI: OSC in over UDP, the daemon's bytes out of a JACK port, fed to a
fresh receiver (the embedded synth's state machine), which must end up holding exactly the voice the
daemon replied with. Then MIDI in, a port that vanishes, and a burst with MIDI out.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import mido
import pytest
import rtmidi
from daemon_harness import daemon_settings, run_daemon
from osc_client import OscClient

from bridge.daemon.lifecycle import Daemon
from bridge.daemon.resync import WATCH_INTERVAL_S
from bridge.midi.cc_map import CcMap
from bridge.midi.receiver import Receiver
from bridge.midi.sysex import encode_bank_dump, encode_param_change, encode_voice_dump
from engine.runtime import Engine
from models.voice import Voice

pytestmark = pytest.mark.jack
TIMEOUT_S = 10.0


@dataclass
class JackPeer:
    """The test's side of the daemon's MIDI ports: an input on its output, an output into its input.

    The input is python-rtmidi in polling mode: its JACK thread queues messages in C++ without
    taking the GIL (a Python callback there would wait for the GIL while the daemon, in this same
    process, decodes, and JACK would drop the cycle's events).
    """

    backend: mido.Backend
    input: rtmidi.MidiIn | None = None
    output: mido.ports.BaseOutput | None = None

    def connect_input(self, port_name: str) -> None:
        port = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="dexbridge-test", queue_size_limit=16384)
        port.ignore_types(sysex=False, timing=True, active_sense=True)
        names = port.get_ports()
        matches = [i for i, n in enumerate(names) if n.endswith(f":{port_name}")]
        assert len(matches) == 1, f"{port_name!r} not listed once among JACK outputs: {names}"
        port.open_port(matches[0])
        self.input = port

    def connect_output(self, port_name: str) -> None:
        names = [n for n in self.backend.get_output_names() if n.endswith(f":{port_name}")]
        assert len(names) == 1, f"{port_name!r} not listed once among JACK inputs: {self.backend.get_output_names()}"
        self.output = self.backend.open_output(names[0])

    async def receive(self, timeout_s: float = TIMEOUT_S) -> bytes | None:
        assert self.input is not None
        deadline = asyncio.get_running_loop().time() + timeout_s
        while (message := self.input.get_message()) is None:
            if asyncio.get_running_loop().time() > deadline:
                return None
            await asyncio.sleep(0.002)
        return bytes(message[0])

    async def until_round_trip(self) -> None:
        """Send a note-off through the daemon (MIDI thru) until it comes back: JACK makes a connection
        on a later cycle, later still on a loaded machine. Late echoes are read and checked. The daemon may
        send its whole voice meanwhile (SysEx or CCs): on a busy machine its watch sees our connection late,
        and an xrun as the voice went out makes it send the voice again."""
        assert self.output is not None
        probe = bytes([0x8F, 0, 0])  # note 0 off, channel 16

        def expected(message: bytes) -> bool:
            return message == probe or message[0] == 0xF0 or 0xB0 <= message[0] <= 0xBF

        for _ in range(100):
            self.output.send(mido.Message.from_bytes(probe))
            while (echo := await self.receive(0.1)) is not None and echo != probe:
                assert expected(echo), f"expected the probe back, got {echo.hex(' ')}"
            if echo == probe:
                break
        else:
            pytest.fail("no round trip through the daemon's MIDI ports")
        assert all(expected(message) for message in await self.receive_quiet())

    async def receive_quiet(self, quiet_s: float = 0.5) -> list[bytes]:
        """Everything that arrives until nothing has for ``quiet_s``."""
        messages = []
        while (message := await self.receive(quiet_s)) is not None:
            messages.append(message)
        return messages

    def close(self) -> None:
        if self.input is not None:
            self.input.close_port()
            self.input.delete()
        if self.output is not None:
            self.output.close()


@pytest.fixture
def names() -> Iterator[tuple[str, str]]:
    yield f"e2e-out-{os.getpid()}", f"e2e-in-{os.getpid()}"


@pytest.fixture
def peer(jack: str) -> Iterator[JackPeer]:
    peer = JackPeer(mido.Backend(jack))
    yield peer
    peer.close()


@asynccontextmanager
async def started(mode: tuple[str, ...], names: tuple[str, str], peer: JackPeer, tiny_engine: Engine,
                **changes: object) -> AsyncIterator[tuple[Daemon, OscClient]]:
    settings = daemon_settings(mode=mode, sink=("midi",), midi_out=f"virtual:{names[0]}", midi_in=f"virtual:{names[1]}",
                               midi_api="jack", slew_ms=0.0, **changes)
    async with run_daemon(settings, tiny_engine) as daemon:
        peer.connect_input(names[0])
        await peer.receive_quiet(2 * WATCH_INTERVAL_S)  # the whole voice, sent to a new connection
        peer.connect_output(names[1])
        await peer.until_round_trip()
        client = await OscClient().open("127.0.0.1", daemon.osc_port)
        client.send("/dexbridge/ping")  # broadcasts (voices from MIDI in) go to clients the daemon has heard from
        await client.until("/dexbridge/pong")
        client.send("/dexbridge/status")
        (text,) = await client.until("/dexbridge/status")
        (output,) = json.loads(text)["outputs"]
        assert output["sinks"] == [f"midi:{names[0]}"] and output["modes"] == list(mode)
        try:
            yield daemon, client
        finally:
            client.close()


async def voice_reply(client: OscClient) -> Voice:
    (vced,) = await client.until("/dexbridge/voice")
    return Voice.from_values(vced)


async def answer_voice(client: OscClient) -> Voice:
    """After an inference request: the last voice sent before ``/dexbridge/inferred`` (the search
    streams each better voice it finds, the answer last)."""
    voice = None
    while True:
        address, args = await client.receive(10.0)
        if address == "/dexbridge/voice":
            voice = Voice.from_values(args[0])
        elif address == "/dexbridge/inferred":
            assert voice is not None
            return voice


async def test_dump_mode_infer_file(names: tuple[str, str], peer: JackPeer, tiny_engine: Engine, brass_wav: Path) -> None:
    async with started(("dump",), names, peer, tiny_engine, dump_debounce_ms=10.0, files_dir=(brass_wav.parent,)) as (daemon,
                                                                                                                 client):
        client.send("/dexbridge/infer/file", str(brass_wav))
        replied = await answer_voice(client)
        received = await peer.receive_quiet()
        assert received and all(len(m) == 163 for m in received), "voice dumps (the better voices, debounced), nothing else"
        receiver = Receiver()
        for message in received:
            receiver.feed(message)
        assert receiver.voice == replied
        assert received[-1] == encode_voice_dump(replied)


async def _morph(client: OscClient, x: float) -> Voice:
    client.send("/dexbridge/morph", x)
    return await voice_reply(client)


async def _fill_slots(client: OscClient, brass_path: Path) -> None:
    client.send("/dexbridge/bank/load", str(brass_path))
    await client.until("/dexbridge/done")
    for slot, index in ((0, 1), (1, 20)):
        client.send("/dexbridge/morph/slot", slot, index)
        await client.until("/dexbridge/done")


async def test_param_mode_after_infer_and_a_morph(names: tuple[str, str], peer: JackPeer, tiny_engine: Engine,
                                                   brass_wav: Path, brass_path: Path) -> None:
    async with started(("param",), names, peer, tiny_engine, files_dir=(brass_wav.parent, brass_path.parent)) as (daemon, client):
        receiver = Receiver()
        client.send("/dexbridge/infer/file", str(brass_wav))
        inferred = await answer_voice(client)
        first = await peer.receive_quiet()
        assert all(len(m) == 7 and m[:3] == b"\xf0\x43\x10" for m in first)
        for message in first:
            receiver.feed(message)
        assert receiver.voice.diff(inferred) == {}, f"{len(first)} changes received"
        await _fill_slots(client, brass_path)
        for x in (0.25, 0.5, 0.8):
            morphed = await _morph(client, x)
        changes = await peer.receive_quiet()
        for message in changes:
            receiver.feed(message)
        assert receiver.voice.diff(morphed) == {}, f"{len(changes)} changes received"
        assert len(changes) <= 3 * 155, "only changed parameters are sent"


async def test_cc_mode_after_a_morph(names: tuple[str, str], peer: JackPeer, tiny_engine: Engine, brass_path: Path) -> None:
    async with started(("cc",), names, peer, tiny_engine, files_dir=(brass_path.parent,)) as (daemon, client):
        cc_map = CcMap.default(0)
        receiver = Receiver(cc_map=cc_map)
        await _fill_slots(client, brass_path)
        morphed = await _morph(client, 0.4)
        received = await peer.receive_quiet()
        assert received and all(len(m) == 3 and m[0] & 0xF0 == 0xB0 for m in received)
        for message in received:
            receiver.feed(message)
        learned = sorted(cc_map.carried)
        assert len(learned) >= 144
        assert [receiver.voice.values[i] for i in learned] == [morphed.values[i] for i in learned]


async def test_midi_in_routes_dumps_programs_ccs_and_notes(names: tuple[str, str], peer: JackPeer, tiny_engine: Engine,
                                                            brass_voices: list[Voice]) -> None:
    async with started(("param",), names, peer, tiny_engine) as (daemon, client):
        assert peer.output is not None
        peer.output.send(mido.Message.from_bytes(encode_voice_dump(brass_voices[4])))
        assert await voice_reply(client) == brass_voices[4]
        await peer.receive_quiet()
        peer.output.send(mido.Message.from_bytes(encode_bank_dump(brass_voices)))
        await client.until("/dexbridge/done")
        peer.output.send(mido.Message("program_change", program=6))
        assert await voice_reply(client) == brass_voices[6]
        await peer.receive_quiet()
        garbage = bytearray(encode_voice_dump(brass_voices[0]))
        garbage[-2] ^= 0x11  # checksum
        peer.output.send(mido.Message.from_bytes(bytes(garbage)))
        (text,) = await client.until("/dexbridge/error")
        assert "MIDI in: SysEx of 163 B refused" in text and "checksum" in text
        peer.output.send(mido.Message("note_on", note=64, velocity=90))
        assert await peer.receive() == bytes([0x90, 64, 90])
        assert daemon.router is not None and daemon.router.held == {(0, 64)}
        peer.output.send(mido.Message("note_off", note=64))
        assert await peer.receive() == bytes([0x80, 64, 64])  # mido note_off velocity 64
        for slot, index in ((0, 1), (1, 20)):
            client.send("/dexbridge/morph/slot", slot, index)
            await client.until("/dexbridge/done")
        peer.output.send(mido.Message("control_change", control=28, value=127))
        expected = brass_voices[20]  # the morph's end is slot B itself (planned, or the latent line with B's transpose and name)
        assert await voice_reply(client) == expected
        peer.output.send(mido.Message.from_bytes(encode_param_change(134, 17)))  # algorithm 18 from a synth's panel
        assert await voice_reply(client) == expected.replace({134: 17})
        peer.output.send(mido.Message("control_change", control=20, value=127))  # macro 0 to +1
        moved = await voice_reply(client)
        assert moved != expected.replace({134: 17})
        assert daemon.session is not None and daemon.session.state.macro_values is not None
        assert daemon.session.state.macro_values[0] == 1.0
        client.send("/dexbridge/ping")
        await client.until("/dexbridge/pong")


async def test_a_vanished_port_is_reported_and_the_daemon_keeps_serving(peer: JackPeer, tiny_engine: Engine,
                                                                         brass_path: Path) -> None:
    synth_name = f"e2e-synth-{os.getpid()}"
    synth = _fresh_input(virtual=synth_name)  # a "synth" the daemon connects to by name
    settings = daemon_settings(mode=("param",), sink=("midi",), midi_out=synth_name, midi_api="jack",
                               files_dir=(brass_path.parent,))
    async with run_daemon(settings, tiny_engine) as daemon:
        client = await OscClient().open("127.0.0.1", daemon.osc_port)
        client.send("/dexbridge/voice/load", str(brass_path), 3)
        await voice_reply(client)
        synth.delete()  # the synth quits: its virtual port goes with its client
        await asyncio.sleep(0.6)  # past the port's existence check interval
        client.send("/dexbridge/voice/load", str(brass_path), 4)
        (text,) = await client.until("/dexbridge/error")
        assert "vanished" in text and synth_name in text
        client.send("/dexbridge/voice/load", str(brass_path), 5)
        await voice_reply(client)  # still serving, without the port
        assert daemon.midi_out is not None and daemon.midi_out.sinks == []
        client.close()


async def test_a_vanished_input_port_is_reported(peer: JackPeer, tiny_engine: Engine) -> None:
    keys_name = f"e2e-keys-{os.getpid()}"
    keys = peer.backend.open_output(keys_name, virtual=True)  # a keyboard the daemon listens to by name
    settings = daemon_settings(mode=("param",), midi_in=keys_name, midi_api="jack")
    async with run_daemon(settings, tiny_engine) as daemon:
        client = await OscClient().open("127.0.0.1", daemon.osc_port)
        client.send("/dexbridge/ping")
        await client.until("/dexbridge/pong")
        keys.close()  # unplugged
        (text,) = await client.until("/dexbridge/error", timeout=5)
        assert text.startswith("MIDI in: MIDI input ") and keys_name in text and "vanished" in text
        client.send("/dexbridge/ping")
        await client.until("/dexbridge/pong")
        client.close()


async def _until_planned(client: OscClient) -> None:
    for _ in range(500):
        client.send("/dexbridge/status")
        (text,) = await client.until("/dexbridge/status")
        if json.loads(text)["morph"]["line_planned"]:
            return
        await asyncio.sleep(0.02)
    pytest.fail("the morph was never planned")


async def test_a_planned_morph_reaches_held_notes_in_cc_mode(names: tuple[str, str], peer: JackPeer, tiny_engine: Engine,
                                                              brass_path: Path, brass_voices: list[Voice]) -> None:
    """cc mode: every step of the morph leaves as learned CCs while a note is held, none cuts the note
    (no dump, no program change, no all-sound-off), and the synth ends holding slot B."""
    async with started(("cc",), names, peer, tiny_engine, files_dir=(brass_path.parent,)) as (daemon, client):
        assert peer.output is not None
        cc_map = CcMap.default(0)
        receiver = Receiver(cc_map=cc_map)
        await _fill_slots(client, brass_path)
        await _until_planned(client)
        await _morph(client, 0.0)
        for message in await peer.receive_quiet():
            receiver.feed(message)
        peer.output.send(mido.Message("note_on", note=60, velocity=90))
        assert await peer.receive() == bytes([0x90, 60, 90])
        voices = [await _morph(client, k / 8) for k in range(1, 9)]
        received = await peer.receive_quiet()
        assert received and all(len(m) == 3 and m[0] & 0xF0 == 0xB0 for m in received), "CCs only while the note is held"
        results = [result for message in received for result in receiver.feed(message)]
        assert not any(result.cuts_notes for result in results)
        assert daemon.router is not None and daemon.router.held == {(0, 60)}
        learned = sorted(cc_map.carried)
        assert voices[-1] == brass_voices[20]
        assert [receiver.voice.values[i] for i in learned] == [brass_voices[20].values[i] for i in learned]
        assert len({v.values for v in voices}) == 8, "every step changes the voice"



async def test_a_synth_that_lost_its_state_is_back_in_step_after_resync(names: tuple[str, str], peer: JackPeer,
                                                                        tiny_engine: Engine, brass_path: Path,
                                                                        brass_voices: list[Voice]) -> None:
    """param mode sends only changes; a restarted synth (a fresh receiver) misses what it held before:
    /dexbridge/resync sends all 155 parameters, and a DX7 voice dump request on MIDI in gets a dump."""
    async with started(("param",), names, peer, tiny_engine, files_dir=(brass_path.parent,)) as (daemon, client):
        client.send("/dexbridge/voice/load", str(brass_path), 4)
        voice = await voice_reply(client)
        await peer.receive_quiet()  # the restarted synth never saw these
        client.send("/dexbridge/voice/load", str(brass_path), 5)
        second = await voice_reply(client)
        restarted = Receiver()
        for message in await peer.receive_quiet():
            restarted.feed(message)
        assert restarted.voice != second and voice != second  # only the changes from voice 4 reached it
        client.send("/dexbridge/resync")
        assert (await client.until("/dexbridge/done"))[0] == "/dexbridge/resync"
        messages = await peer.receive_quiet()
        whole = [encode_param_change(number, second[number]) for number in range(155)]
        assert messages[:155] == whole
        assert _resent(messages[155:], whole), "after the whole voice, only the whole voice again (an xrun as it went out)"
        for message in messages:
            restarted.feed(message)
        assert restarted.voice == second == brass_voices[5]
        assert peer.output is not None
        peer.output.send(mido.Message.from_bytes([0xF0, 0x43, 0x20, 0x00, 0xF7]))  # DX7 voice dump request, channel 1
        dump, *rest = [m for m in await peer.receive_quiet() if len(m) != 7]  # param changes: a resend after an xrun
        assert dump == encode_voice_dump(second) and rest == []


def _resent(messages: list[bytes], whole: list[bytes]) -> bool:
    """Whether ``messages`` are ``whole`` sent again, any number of times: the daemon sends its whole voice again when
    JACK reports an xrun as it went out (a loaded machine), as a synth may have lost some of it."""
    return len(messages) % len(whole) == 0 and all(m == whole[i % len(whole)] for i, m in enumerate(messages))


def _fresh_input(port_name: str | None = None, *, virtual: str | None = None) -> rtmidi.MidiIn:
    """A synth's MIDI input that holds nothing yet: connected to ``port_name`` or a new virtual port."""
    port = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="dexbridge-synth", queue_size_limit=16384)
    port.ignore_types(sysex=False, timing=True, active_sense=True)
    if virtual is not None:
        port.open_virtual_port(virtual)
    else:
        names = port.get_ports()
        port.open_port(next(i for i, n in enumerate(names) if n.endswith(f":{port_name}")))
    return port


async def _until_voice(port: rtmidi.MidiIn, voice: Voice, timeout_s: float = TIMEOUT_S) -> Receiver:
    """Feed a fresh receiver what arrives until it holds ``voice`` (fails after ``timeout_s``)."""
    receiver = Receiver()
    deadline = asyncio.get_running_loop().time() + timeout_s
    while receiver.voice != voice:
        assert asyncio.get_running_loop().time() < deadline, f"the synth holds {receiver.voice.name!r}, not {voice.name!r}"
        while (message := port.get_message()) is not None:
            receiver.feed(bytes(message[0]))
        await asyncio.sleep(0.01)
    return receiver


async def test_a_new_connection_to_the_virtual_port_gets_the_whole_voice(names: tuple[str, str], peer: JackPeer,
                                                                         tiny_engine: Engine, brass_path: Path,
                                                                         brass_voices: list[Voice]) -> None:
    """A synth connecting after the voice went out (or reconnecting after a restart) is sent all of it,
    unasked: the daemon sees the new JACK connection."""
    async with started(("param",), names, peer, tiny_engine, files_dir=(brass_path.parent,)) as (_daemon, client):
        client.send("/dexbridge/voice/load", str(brass_path), 6)
        assert await voice_reply(client) == brass_voices[6]
        await peer.receive_quiet()
        late = _fresh_input(names[0])
        try:
            await _until_voice(late, brass_voices[6])
        finally:
            late.close_port()
            late.delete()


async def test_a_synth_port_that_vanishes_and_comes_back_is_reopened_and_resynced(peer: JackPeer, tiny_engine: Engine,
                                                                                   brass_path: Path,
                                                                                   brass_voices: list[Voice]) -> None:
    """The daemon connects to the synth's port by name; the synth quits (the port vanishes: reported
    once), then starts again holding nothing: the daemon reopens the port and sends the whole voice."""
    synth_name = f"synth-{os.getpid()}"
    synth = _fresh_input(virtual=synth_name)
    settings = daemon_settings(mode=("param",), sink=("midi",), midi_out=synth_name, midi_api="jack", slew_ms=0.0,
                               files_dir=(brass_path.parent,))
    async with run_daemon(settings, tiny_engine) as daemon:
        client = await OscClient().open("127.0.0.1", daemon.osc_port)
        try:
            client.send("/dexbridge/voice/load", str(brass_path), 7)
            assert await voice_reply(client) == brass_voices[7]
            await _until_voice(synth, brass_voices[7])
            synth.close_port()
            synth.delete()
            (error,) = await client.until("/dexbridge/error")
            assert f"{synth_name}' vanished" in error
            synth = _fresh_input(virtual=synth_name)
            await _until_voice(synth, brass_voices[7])
            assert [sink.name for sink in daemon.midi_out.sinks] == [f"midi:dexbridge-synth:{synth_name}"]
        finally:
            client.close()
            synth.close_port()
            synth.delete()


async def test_a_named_synth_port_gets_the_daemon_s_voice_when_opened_at_start(peer: JackPeer, tiny_engine: Engine) -> None:
    """The synth already runs when the daemon starts, holding a voice of its own: unasked, the daemon
    sends its voice (dump mode: one voice dump) as soon as it opens the port."""
    synth_name = f"held-{os.getpid()}"
    synth = _fresh_input(virtual=synth_name)
    settings = daemon_settings(mode=("dump",), sink=("midi",), midi_out=synth_name, midi_api="jack")
    try:
        async with run_daemon(settings, tiny_engine) as daemon:
            deadline = asyncio.get_running_loop().time() + TIMEOUT_S
            while (message := synth.get_message()) is None:
                assert asyncio.get_running_loop().time() < deadline, "the synth got nothing at start"
                await asyncio.sleep(0.01)
            assert daemon.session is not None
            assert bytes(message[0]) == encode_voice_dump(daemon.session.state.voice)
    finally:
        synth.close_port()
        synth.delete()


async def test_the_idle_refresh_sends_the_whole_voice_again(names: tuple[str, str], peer: JackPeer, tiny_engine: Engine,
                                                            brass_path: Path, brass_voices: list[Voice]) -> None:
    """--resync-s 1: a synth that lost its state unseen is back in step within a second of quiet."""
    settings = daemon_settings(mode=("param",), sink=("midi",), midi_out=f"virtual:{names[0]}", midi_api="jack",
                               slew_ms=0.0, files_dir=(brass_path.parent,), resync_s=1.0)
    async with run_daemon(settings, tiny_engine) as daemon:
        peer.connect_input(names[0])
        client = await OscClient().open("127.0.0.1", daemon.osc_port)
        try:
            client.send("/dexbridge/voice/load", str(brass_path), 9)
            assert await voice_reply(client) == brass_voices[9]
            await asyncio.sleep(0.2)
            assert peer.input is not None
            while peer.input.get_message() is not None:  # the synth loses what it got so far
                pass
            await _until_voice(peer.input, brass_voices[9], timeout_s=3.0)
        finally:
            client.close()


async def test_a_paced_port_still_delivers_every_voice_of_a_morph(names: tuple[str, str], peer: JackPeer, tiny_engine: Engine,
                                                                   brass_path: Path, brass_voices: list[Voice]) -> None:
    """--messages-per-period 8: the burst of each voice is spread over periods, the daemon holds its
    queue back meanwhile (latest wins), and the synth ends on the last voice asked for."""
    async with started(("param",), names, peer, tiny_engine, files_dir=(brass_path.parent,),
                       messages_per_period=8) as (daemon, client):
        for index in (2, 11, 23, 30):
            client.send("/dexbridge/voice/load", str(brass_path), index)
        for _ in range(4):
            last = await voice_reply(client)
        assert last == brass_voices[30]
        receiver = Receiver()
        for message in await peer.receive_quiet():
            receiver.feed(message)
        assert receiver.voice == brass_voices[30]
        assert daemon.midi_out.sinks[0].backlog == 0
