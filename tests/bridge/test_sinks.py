"""Sinks: the MIDI port sink and open_sinks on JACK, the embedded dexed-py synth (same audio as
models.render for the voice the MIDI bytes set; playback through PortAudio on JACK)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from jack_helpers import wait_until_connected

from bridge.midi.param_stream import ParamStream
from bridge.midi.ports import MidiInput, MidiPortError
from bridge.midi.receiver import audible_voice
from bridge.midi.sysex import decode_sysex, encode_param_change, encode_voice_dump
from bridge.sinks import SinkError, open_sinks
from models.render import Renderer
from models.voice import Voice

if TYPE_CHECKING:
    from bridge.sinks.embedded import EmbeddedSynth


@dataclass(frozen=True)
class SinkConfig:
    sink: tuple[str, ...]
    midi_out: str | None = None
    midi_api: str = "jack"
    plugin: Path | None = None
    messages_per_period: int | None = None


@pytest.fixture
def synth(jack: str) -> Iterator[EmbeddedSynth]:
    """An embedded synth, made once JACK runs (sounddevice lists PortAudio's devices when first imported); closed after."""
    from bridge.sinks.embedded import EmbeddedSynth

    made = EmbeddedSynth()
    yield made
    made.close()


@pytest.fixture(scope="module")
def brass(brass_path: Path) -> tuple[Voice, ...]:
    return decode_sysex(brass_path.read_bytes()).voices


def test_embedded_synth_renders_what_renderer_renders_for_the_voice_its_bytes_set(synth: EmbeddedSynth,
                                                                                 brass: tuple[Voice, ...]) -> None:
    synth.send(encode_voice_dump(brass[3]))
    stream = ParamStream(synth_voice=brass[3])
    stream.update(brass[9])
    for message in stream.take(0.0):
        synth.send(message)
    assert synth.voice == brass[9]
    audio = synth.render(60, 85)
    np.testing.assert_array_equal(audio, Renderer().render(brass[9], 60, 85))
    assert np.abs(audio).max() > 0.01


def test_operators_switched_off_by_parameter_155_are_silent(synth: EmbeddedSynth) -> None:
    on = synth.render(60, 100, note_seconds=0.5, render_seconds=0.6)
    synth.send(encode_param_change(155, 0b011111))  # OP1, INIT VOICE's only carrier, off
    off = synth.render(60, 100, note_seconds=0.5, render_seconds=0.6)
    assert np.abs(on).max() > 0.5 and np.abs(off).max() < 1e-3
    assert audible_voice(Voice.init(), 0b111111) == Voice.init()
    synth.send(encode_voice_dump(Voice.init()))  # a dump turns every operator back on
    np.testing.assert_array_equal(synth.render(60, 100, note_seconds=0.5, render_seconds=0.6), on)


def test_embedded_synth_plays_through_portaudio_on_jack(synth: EmbeddedSynth) -> None:
    audio = synth.play(69, 100, note_seconds=0.2, render_seconds=0.3)
    assert synth.playback_rate == 48000 and len(audio) == round(0.3 * 48000)
    assert synth.wait(timeout_s=5.0), "playback did not finish"
    synth.play(60, 100, note_seconds=2.0, render_seconds=3.0)
    synth.all_notes_off()
    assert synth.wait(timeout_s=0.1), "all_notes_off stops playback at once"


def test_a_note_plays_while_another_thread_renders_at_22050_hz(synth: EmbeddedSynth) -> None:
    """What the morph planner and the search do beside an audition: dexed-py renders at one rate per process."""
    stop, failures, renders = threading.Event(), [], 0

    def render_meanwhile() -> None:
        nonlocal renders
        renderer = Renderer(22050, 0.5, 0.5)
        try:
            while not stop.is_set():
                renderer.render(Voice.init(), 60, 85)
                renders += 1
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    worker = threading.Thread(target=render_meanwhile)
    worker.start()
    try:
        for note in range(60, 66):
            audio = synth.play(note, 100, note_seconds=0.3, render_seconds=0.4)
            assert len(audio) == round(0.4 * 48000)
    finally:
        stop.set()
        worker.join()
    assert failures == [] and renders > 0


def test_notes_queue_up_to_a_few_then_are_refused_as_busy(synth: EmbeddedSynth) -> None:
    from bridge.sinks.embedded import MAX_WAITING, PlayerBusy

    playing, refused = [], []
    for note in range(60, 68):
        try:
            playing.append(synth.submit(note, 100, note_seconds=0.2, render_seconds=0.3))
        except PlayerBusy as exc:
            refused.append(str(exc))
    assert MAX_WAITING <= len(playing) <= MAX_WAITING + 1 and len(playing) + len(refused) == 8
    assert refused[0] == (f"busy: {MAX_WAITING} notes already waiting to play (at most {MAX_WAITING}); "
                          f"send the next one when a note is answered")
    for future in playing:  # each one played in turn, replacing the one before
        assert len(future.result(10.0)) == round(0.3 * 48000)
    assert synth.wait(5.0)


def test_all_notes_off_and_close_answer_the_notes_waiting_and_end_the_audio_thread(synth: EmbeddedSynth) -> None:
    waiting = [synth.submit(note, 100, note_seconds=2.0, render_seconds=2.5) for note in range(60, 64)]
    synth.all_notes_off()
    outcomes = [future.exception(10.0) for future in waiting]  # played before the stop, or dropped by it
    assert all(exc is None or "stopped (all notes off) before it played" in str(exc) for exc in outcomes), outcomes
    assert synth.wait(0.1)
    waiting = [synth.submit(note, 100, note_seconds=2.0, render_seconds=2.5) for note in range(60, 64)]
    audio_threads = [t for t in threading.enumerate() if t.name == "dexbridge-audio"]
    assert audio_threads
    started = time.monotonic()
    synth.close()
    assert time.monotonic() - started < 2.0
    assert not any(thread.is_alive() for thread in audio_threads)
    assert all(future.done() for future in waiting)
    with pytest.raises(SinkError, match="embedded synth: closed; it plays no more notes"):
        synth.submit(60)


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
