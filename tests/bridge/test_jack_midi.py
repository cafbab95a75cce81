"""Every DX7 message type through real JACK MIDI ports (a mido output, an rtmidi input), received byte-exact.

The input lets rtmidi queue in C++ and polls, as the daemon's does: mido's input takes each event
in a Python callback on JACK's process thread, which waits for the GIL; messages then arrive as
copies of others (``scripts/measure_midi_loss.py``), and closing such a port while an event waits
for the GIL can hang the process (JACK waits for the callback, the callback for the GIL).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import mido
import pytest
import rtmidi
from jack_helpers import attempts

from bridge.midi.jack_server import XrunCounter
from bridge.midi.sysex import (
    decode_sysex,
    encode_dump_request,
    encode_param_change,
    encode_voice_dump,
)
from models.voice import Voice

pytestmark = pytest.mark.jack

TIMEOUT_S = 5.0


@dataclass
class Loopback:
    """A virtual JACK MIDI output and an input connected to it."""

    output: mido.ports.BaseOutput
    input: rtmidi.MidiIn

    def receive(self, timeout_s: float = TIMEOUT_S) -> bytes | None:
        deadline = time.monotonic() + timeout_s
        while (message := self.input.get_message()) is None:
            if time.monotonic() > deadline:
                return None
            time.sleep(0.002)
        return bytes(message[0])

    def send(self, message: bytes) -> None:
        self.output.send(mido.Message.from_bytes(message))

    def drain(self) -> None:
        """Drop what the input holds: copies a late JACK cycle left of an earlier message."""
        while self.input.get_message() is not None:
            pass


def _wait_until_connected(link: Loopback) -> None:
    """Send probes until one comes back, then a marker: whatever precedes the marker is a late probe."""
    deadline = time.monotonic() + TIMEOUT_S
    probe = encode_dump_request("voice", channel=15)
    while True:
        link.send(probe)
        if link.receive(timeout_s=0.1) is not None:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"the JACK connection carried nothing within {TIMEOUT_S} s")
    marker = encode_param_change(0, 42, channel=15)
    link.send(marker)
    while (received := link.receive()) != marker:
        assert received == probe, f"unexpected message while connecting: {received!r}"


@pytest.fixture(scope="module")
def loopback(jack: str) -> Iterator[Loopback]:
    backend = mido.Backend(jack)
    name = f"dexbridge-test-{os.getpid()}"
    output = backend.open_output(name, virtual=True)
    midi_input = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="dexbridge-loopback", queue_size_limit=16384)
    midi_input.ignore_types(sysex=False, timing=True, active_sense=True)
    inputs = [i for i, n in enumerate(midi_input.get_ports()) if n.endswith(f":{name}")]
    assert len(inputs) == 1, f"port {name!r} not listed once among JACK outputs: {midi_input.get_ports()}"
    midi_input.open_port(inputs[0])
    link = Loopback(output, midi_input)
    try:
        _wait_until_connected(link)
        yield link
    finally:
        midi_input.close_port()
        midi_input.delete()
        output.close()


MESSAGES: dict[str, Callable[[bytes], bytes]] = {
    "voice-dump-ch1": lambda bank: encode_voice_dump(Voice.init("JACK TEST").replace({134: 31})),
    "voice-dump-ch16": lambda bank: encode_voice_dump(decode_sysex(bank).voices[3], channel=15),
    "bank-dump-4104": lambda bank: bank,
    "param-group-0": lambda bank: encode_param_change(127, 7, channel=4),
    "param-group-1": lambda bank: encode_param_change(155, 0b101010, channel=4),
    "algorithm-32": lambda bank: encode_param_change(134, 31),
    "voice-request": lambda bank: encode_dump_request("voice", channel=9),
    "bank-request": lambda bank: encode_dump_request("bank", channel=9),
}


@pytest.mark.parametrize("build", list(MESSAGES.values()), ids=list(MESSAGES))
def test_message_crosses_jack_byte_exact(
    loopback: Loopback, brass_path: Path, build: Callable[[bytes], bytes]
) -> None:
    """A message that arrives other than it left fails the test, unless the server reported an xrun meanwhile
    (a cycle that ran late hands the receiver copies: ``scripts/measure_midi_loss.py``); then it is sent again."""
    message = build(brass_path.read_bytes())
    with XrunCounter() as xruns:
        for attempt in attempts(xruns, "sends"):
            loopback.drain()
            with attempt:
                loopback.send(message)
                received = loopback.receive()
                assert received is not None, f"no message within {TIMEOUT_S} s"
                assert received == message
            if attempt.clean:
                break
    assert decode_sysex(received) == decode_sysex(message)

