"""Sinks: the MIDI port sink and open_sinks on JACK, the embedded dexed-py synth (same audio as
models.render for the voice the MIDI bytes set; playback through PortAudio on JACK)."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from jack_helpers import wait_until_connected

from bridge.midi.param_stream import ParamStream
from bridge.midi.ports import MidiInput, MidiPortError
from bridge.midi.receiver import audible_voice
from bridge.midi.sysex import decode_sysex, encode_param_change, encode_voice_dump
from bridge.sinks import SinkError, open_sinks
from bridge.sinks.embedded import EmbeddedSynth
from models.render import Renderer
from models.voice import Voice


@dataclass(frozen=True)
class SinkConfig:
    sink: tuple[str, ...]
    midi_out: str | None = None
    midi_api: str = "jack"
    plugin: Path | None = None
    messages_per_period: int | None = None


@pytest.fixture(scope="module")
def brass(brass_path: Path) -> tuple[Voice, ...]:
    return decode_sysex(brass_path.read_bytes()).voices


def test_embedded_synth_renders_what_renderer_renders_for_the_voice_its_bytes_set(brass: tuple[Voice, ...]) -> None:
    synth = EmbeddedSynth()
    synth.send(encode_voice_dump(brass[3]))
    stream = ParamStream(synth_voice=brass[3])
    stream.update(brass[9])
    for message in stream.take(0.0):
        synth.send(message)
    assert synth.voice == brass[9]
    audio = synth.render(60, 85)
    np.testing.assert_array_equal(audio, Renderer().render(brass[9], 60, 85))
    assert np.abs(audio).max() > 0.01


def test_operators_switched_off_by_parameter_155_are_silent() -> None:
    synth = EmbeddedSynth()
    on = synth.render(60, 100, note_seconds=0.5, render_seconds=0.6)
    synth.send(encode_param_change(155, 0b011111))  # OP1, INIT VOICE's only carrier, off
    off = synth.render(60, 100, note_seconds=0.5, render_seconds=0.6)
    assert np.abs(on).max() > 0.5 and np.abs(off).max() < 1e-3
    assert audible_voice(Voice.init(), 0b111111) == Voice.init()
    synth.send(encode_voice_dump(Voice.init()))  # a dump turns every operator back on
    np.testing.assert_array_equal(synth.render(60, 100, note_seconds=0.5, render_seconds=0.6), on)


def test_embedded_synth_plays_through_portaudio_on_jack(jack: str) -> None:
    synth = EmbeddedSynth()
    audio = synth.play(69, 100, note_seconds=0.2, render_seconds=0.3)
    assert synth.playback_rate == 48000 and len(audio) == round(0.3 * 48000)
    assert synth.wait(timeout_s=5.0), "playback did not finish"
    synth.play(60, 100, note_seconds=2.0, render_seconds=3.0)
    synth.all_notes_off()
    assert synth.wait(timeout_s=0.1), "all_notes_off stops playback at once"
    synth.close()


async def test_open_sinks_midi_and_embedded_deliver_the_same_bytes(jack: str, brass: tuple[Voice, ...]) -> None:
    name = f"dexed-{os.getpid()}"
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    target = MidiInput(f"virtual:{name}", queue.put_nowait, api="jack")
    sinks = open_sinks(SinkConfig(("midi", "embedded"), midi_out=name))
    try:
        assert [type(s).__name__ for s in sinks] == ["MidiPortSink", "EmbeddedSynth"]
        dump = encode_voice_dump(brass[1])
        await wait_until_connected(sinks[0].send, queue)
        for sink in sinks:
            sink.send(dump)
        assert await asyncio.wait_for(queue.get(), 5.0) == dump
        assert sinks[1].voice == brass[1]
        sinks[0].all_notes_off()
        assert await asyncio.wait_for(queue.get(), 5.0) == bytes([0xB0, 64, 0])
    finally:
        for sink in sinks:
            sink.close()
        target.close()


def test_open_sinks_refuses_bad_settings_and_closes_what_it_opened(jack: str) -> None:
    with pytest.raises(SinkError, match="sink 'midi' needs --midi-out PORT"):
        open_sinks(SinkConfig(("midi",)))
    with pytest.raises(SinkError, match="sink 'organ' unknown: choose from midi, embedded, dawdreamer"):
        open_sinks(SinkConfig(("embedded", "organ")))
    with pytest.raises(MidiPortError, match="no MIDI output port matches 'no-such-dexed'"):
        open_sinks(SinkConfig(("embedded", "midi"), midi_out="no-such-dexed"))
    with pytest.raises(SinkError, match="no such file"):
        open_sinks(SinkConfig(("dawdreamer",), plugin=Path("/nonexistent/Dexed.vst3")))
