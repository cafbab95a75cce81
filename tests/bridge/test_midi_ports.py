"""MIDI ports through a real JACK server: lookup, virtual ports, the loop hop, vanished ports,
all-notes-off, and the param / cc modes end to end (voice A -> voice B into a receiver)."""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
from jack_helpers import attempts, wait_until_connected

from bridge.midi.cc_map import CcMap
from bridge.midi.jack_server import XrunCounter
from bridge.midi.param_stream import ParamStream
from bridge.midi.ports import MidiInput, MidiOutput, MidiPortError, all_notes_off_messages, resolve_port_name
from bridge.midi.receiver import Receiver
from bridge.midi.sysex import decode_sysex, encode_voice_dump
from bridge.midi.systems import MIDI_APIS, midi_api
from models.voice import Voice

TIMEOUT_S = 5.0
_names = itertools.count()


def _unique(stem: str) -> str:
    return f"{stem}-{os.getpid()}-{next(_names)}"


def test_port_names_match_exactly_or_by_unique_substring() -> None:
    ports = ["Dexed:midi_in", "Dexed Two:midi_in", "system:midi_capture_1"]
    assert resolve_port_name("Dexed:midi_in", ports, "output") == "Dexed:midi_in"
    assert resolve_port_name("Two", ports, "output") == "Dexed Two:midi_in"
    with pytest.raises(MidiPortError, match=r"'midi_in' is ambiguous: it matches \['Dexed:midi_in', 'Dexed Two:midi_in'\]"):
        resolve_port_name("midi_in", ports, "output")
    with pytest.raises(MidiPortError, match="no MIDI input port matches 'Nord'; input ports: 'Dexed:midi_in', .*virtual:NAME"):
        resolve_port_name("Nord", ports, "input")
    with pytest.raises(MidiPortError, match="ports: none"):
        resolve_port_name("Nord", [], "input")


def test_midi_api_names_map_to_mido_backends_and_unknown_ones_are_refused() -> None:
    assert midi_api("jack").mido_backend == "mido.backends.rtmidi/UNIX_JACK"
    assert set(MIDI_APIS) == {"auto", "jack", "alsa", "coremidi", "winmm"}
    with pytest.raises(MidiPortError, match="'pipewire' unknown: choose from auto, jack"):
        midi_api("pipewire")
    with pytest.raises(MidiPortError, match="no coremidi support"):
        midi_api("coremidi")


@dataclass
class Link:
    """A virtual JACK output and an input connected to it by name, receiving on the loop."""

    output: MidiOutput
    input: MidiInput
    queue: asyncio.Queue[bytes]
    xruns: XrunCounter

    async def receive(self, timeout_s: float = TIMEOUT_S) -> bytes:
        return await asyncio.wait_for(self.queue.get(), timeout_s)

    async def exchange(self, messages: list[bytes], send: Callable[[], None] | None = None) -> list[bytes]:
        """Send every message at once (they share a JACK cycle; ``send``: what sends them, by default each in
        turn), take as many as were sent, and check that nothing more comes (no repeat). An exchange during
        which the JACK server reported an xrun is made again: a cycle that ran late loses or repeats what it
        carried (``scripts/measure_midi_loss.py``)."""
        for attempt in attempts(self.xruns, "exchanges"):
            while not self.queue.empty():  # what a late cycle left of the exchange before
                self.queue.get_nowait()
            with attempt:
                (send or partial(_send_each, self.output, messages))()
                received = [await self.receive() for _ in messages]
                await asyncio.sleep(0.05)
                assert self.queue.empty(), f"{self.queue.qsize()} messages more than were sent"
            if attempt.clean:
                break
        return received


def _send_each(output: MidiOutput, messages: list[bytes]) -> None:
    for message in messages:
        output.send(message)


@pytest.fixture
async def link(jack: str) -> AsyncIterator[Link]:
    name = _unique("out")
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    output = MidiOutput(f"virtual:{name}", "jack")
    midi_input = MidiInput(name, queue.put_nowait, api="jack")  # found by unique substring
    try:
        await wait_until_connected(output.send, queue)
        with XrunCounter() as xruns:
            yield Link(output, midi_input, queue, xruns)
    finally:
        midi_input.close()
        output.close()


async def test_messages_cross_in_order_and_sysex_is_reassembled(link: Link, brass_path: Path) -> None:
    voice = decode_sysex(brass_path.read_bytes()).voices[7]
    messages = [bytes([0x90, 60, 100]), encode_voice_dump(voice, channel=2), bytes([0xB0, 7, 99]), bytes([0x80, 60, 0])]
    assert await link.exchange(messages) == messages
    assert link.input.take_errors() == []
    assert link.input.name.endswith(link.output.name)


async def test_all_notes_off_releases_sustain_then_notes_on_every_channel(link: Link) -> None:
    received = await link.exchange(all_notes_off_messages(), send=link.output.all_notes_off)
    assert received == all_notes_off_messages()
    assert received[:2] == [bytes([0xB0, 64, 0]), bytes([0xB0, 123, 0])]


async def test_a_vanished_port_raises_a_typed_error_naming_it(jack: str) -> None:
    name = _unique("synth")
    target = MidiInput(f"virtual:{name}", lambda message: None, api="jack")
    output = MidiOutput(name, "jack", check_interval_s=0.0)
    try:
        output.send(bytes([0x90, 60, 1]))
        target.close()
        with pytest.raises(MidiPortError, match=f"MIDI output '.*{name}' vanished"):
            for _ in range(50):  # JACK unregisters the port asynchronously
                output.send(bytes([0x80, 60, 0]))
                await asyncio.sleep(0.02)
    finally:
        output.close()
        target.close()
    with pytest.raises(MidiPortError, match="is closed"):
        output.send(bytes([0x80, 60, 0]))


async def test_a_port_restarted_under_its_name_is_connected_again(jack: str) -> None:
    """The named port's client goes and a new one registers the same name at once: JACK dropped our
    connection and the name is listed again; reconnect() sees it, connects, and messages arrive."""
    name = _unique("restarting")
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    target = MidiInput(f"virtual:{name}", queue.put_nowait, api="jack")
    output = MidiOutput(name, "jack")
    try:
        assert output.reconnect() is False, "connected since it opened"
        target.close()
        target = MidiInput(f"virtual:{name}", queue.put_nowait, api="jack")
        output.check()  # the name alone says nothing is wrong
        assert output.reconnect() is True
        assert output.reconnect() is False
        note = bytes([0x90, 60, 100])
        output.send(note)
        assert await asyncio.wait_for(queue.get(), TIMEOUT_S) == note
        target.close()
        with pytest.raises(MidiPortError, match=f"MIDI output '.*{name}' vanished"):
            for _ in range(50):  # JACK unregisters the port asynchronously
                output.reconnect()
                await asyncio.sleep(0.02)
    finally:
        output.close()
        target.close()


def test_missing_and_virtual_names_are_checked(jack: str) -> None:
    with pytest.raises(MidiPortError, match="no MIDI output port matches 'no-such-synth-xyz'"):
        MidiOutput("no-such-synth-xyz", "jack")
    with pytest.raises(MidiPortError, match="give the virtual port a name"):
        MidiOutput("virtual:", "jack")


VOICE_PAIRS = [(0, 1), (5, 20), (31, 12)]


@pytest.mark.parametrize(("a", "b"), VOICE_PAIRS)
async def test_param_mode_moves_a_receiver_from_a_to_b_through_jack(link: Link, brass_path: Path, a: int, b: int) -> None:
    voices = decode_sysex(brass_path.read_bytes()).voices
    receiver = Receiver(voice=voices[a])
    stream = ParamStream(channel=0, synth_voice=voices[a])
    stream.update(voices[b])
    for message in await link.exchange(stream.take(0.0)):
        receiver.feed(message)
    assert receiver.voice == voices[b]


@pytest.mark.parametrize(("a", "b"), VOICE_PAIRS)
async def test_cc_mode_moves_a_receiver_from_a_to_b_through_jack(link: Link, brass_path: Path, a: int, b: int) -> None:
    voices = decode_sysex(brass_path.read_bytes()).voices
    cc_map = CcMap.default()
    receiver = Receiver(voice=voices[a], cc_map=cc_map)
    stream = ParamStream(encoder=cc_map, synth_voice=voices[a])
    stream.update(voices[b])
    for message in await link.exchange(stream.take(0.0)):
        receiver.feed(message)
    assert receiver.voice == voices[b].with_name(voices[a].name), "all but the name, which no CC carries"


def test_voice_fixture_pairs_differ(brass_path: Path) -> None:
    voices = decode_sysex(brass_path.read_bytes()).voices
    assert all(voices[a] != voices[b] for a, b in VOICE_PAIRS)
    assert Voice.init() not in voices


async def test_rtmidi_thread_chunks_hop_to_the_loop_and_are_reassembled(jack: str, brass_path: Path) -> None:
    loop_thread = threading.get_ident()
    delivered: list[tuple[bytes, int]] = []
    port = MidiInput(f"virtual:{_unique('hop')}", lambda message: delivered.append((message, threading.get_ident())), api="jack")
    dump = encode_voice_dump(decode_sysex(brass_path.read_bytes()).voices[2])
    chunks = [dump[:100], dump[100:], bytes([0x90, 60, 99]), dump[:40], bytes([0xB0, 1, 2]), dump[40:]]
    try:
        feeder = threading.Thread(target=lambda: [port._hand_over([chunk]) for chunk in chunks])
        feeder.start()
        feeder.join()
        await asyncio.sleep(0.05)
        assert [message for message, _ in delivered] == [dump, bytes([0x90, 60, 99]), bytes([0xB0, 1, 2])]
        assert {thread for _, thread in delivered} == {loop_thread}, "the handler runs on the loop's thread only"
        assert port.take_errors() == ["status byte 0xB0 inside an unterminated SysEx: 40 bytes dropped"]
        assert port.discarded == len(dump) - 40 + 1, "the rest of the cut dump (F7 included) and the status byte cutting it"
    finally:
        port.close()


def test_a_jack_client_that_will_not_close_does_not_stop_the_caller() -> None:
    """libjack's close can deadlock when a watched port has just gone: the caller goes on after the wait."""
    import threading
    import time

    from bridge.midi import jack_link

    released = threading.Event()

    class Stuck:
        name = "stuck"

        def close(self) -> None:
            released.wait(10.0)

    began = time.monotonic()
    jack_link.close_jack_client(Stuck())
    assert jack_link.CLOSE_WAIT_S <= time.monotonic() - began < jack_link.CLOSE_WAIT_S + 1.0
    released.set()


class _LaggingServer:
    """A JACK client whose connection shows in the graph played only ``lag`` queries after it was made,
    as a server shows it from its next process cycle on."""

    blocksize, samplerate = 256, 48_000

    def __init__(self, lag: int) -> None:
        self.lag = lag
        self.queries = 0
        self.connected_at: int | None = None

    def connect(self, ours: str, target: str) -> None:
        self.connected_at = self.queries

    def get_all_connections(self, port: str) -> list[object]:
        self.queries += 1
        played = self.connected_at is not None and self.queries > self.connected_at + self.lag
        return [type("Port", (), {"name": "synth:in"})()] if played else []


def test_a_connection_is_made_only_once_jack_plays_through_it() -> None:
    """What is sent before JACK's next graph goes nowhere: connect() returns once the connection is in
    the graph played, two periods later; a server that never plays it is an error, not a silent loss."""
    import time

    from bridge.midi.jack_link import GRAPH_WAIT_S, SETTLE_PERIODS, JackLink

    server = _LaggingServer(lag=3)
    link = JackLink(server, "dexbridge:dexbridge", "synth:in")
    began = time.monotonic()
    link.connect()
    assert server.queries == 4, "asked until the connection showed"
    assert time.monotonic() - began >= SETTLE_PERIODS * 256 / 48_000
    assert link.connected()
    stalled = JackLink(_LaggingServer(lag=10**9), "dexbridge:dexbridge", "synth:in")
    began = time.monotonic()
    with pytest.raises(MidiPortError, match="did not play through it within"):
        stalled.connect()
    assert GRAPH_WAIT_S <= time.monotonic() - began < GRAPH_WAIT_S + 1.0
