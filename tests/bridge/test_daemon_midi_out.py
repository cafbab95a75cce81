"""MIDI out per mode into the embedded synth (dexed-py driven by the DX7 receiver): it must end up
holding exactly what was sent, within the byte budget, with dumps debounced and held back by notes."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable

import pytest

from bridge.daemon.midi_out import BURST_BYTES, MidiOut
from bridge.daemon.settings import Settings
from bridge.midi.cc_map import CcMap
from bridge.sinks import MidiPortSink
from bridge.sinks.embedded import EmbeddedSynth
from models.voice import Voice


@pytest.fixture
async def make_out() -> AsyncIterator[Callable[..., tuple[MidiOut, EmbeddedSynth, list[BaseException]]]]:
    made: list[MidiOut] = []

    def make(held: Callable[[], int] = lambda: 0, **changes: object) -> tuple[MidiOut, EmbeddedSynth, list[BaseException]]:
        settings = dataclasses.replace(Settings(), **changes)
        synth = EmbeddedSynth(cc_map=CcMap.default(settings.midi_channel) if "cc" in settings.mode else None)
        errors: list[BaseException] = []
        out = MidiOut(settings, [synth], errors.append, held_notes=held)
        out.start()
        made.append(out)
        return out, synth, errors

    yield make
    for out in made:
        await out.aclose()


async def drained(out: MidiOut, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while out.pending:
        assert time.monotonic() < deadline, f"{out.pending} messages still queued"
        await asyncio.sleep(0.005)


async def test_param_mode_under_the_din_budget(make_out: Callable, brass_voices: list[Voice]) -> None:
    out, synth, errors = make_out(mode=("param",), din=True)
    started = time.monotonic()
    for voice in brass_voices[:3]:  # three voices at once: only the last one's values go out
        out.send_voice(voice)
    while out.pending:
        elapsed = time.monotonic() - started
        assert out.sent_bytes <= 3125 * elapsed + BURST_BYTES, f"{out.sent_bytes} B in {elapsed:.3f} s"
        await asyncio.sleep(0.01)
    assert synth.voice == brass_voices[2] and errors == []
    # the first burst went out with the first voice; after that each parameter at most once (latest wins)
    assert out.sent_bytes <= 7 * 155 + BURST_BYTES
    before = out.sent_bytes
    out.send_voice(brass_voices[2].replace({134: (brass_voices[2]["algorithm"] + 1) % 32}))
    await drained(out)
    assert out.sent_bytes - before == 7, "one changed parameter, one 7-byte message"


async def test_dump_mode_debounces_to_one_dump(make_out: Callable, brass_voices: list[Voice]) -> None:
    out, synth, _ = make_out(mode=("dump",), dump_debounce_ms=50.0)
    for voice in brass_voices[:5]:
        out.send_voice(voice)
        await asyncio.sleep(0.005)
    await drained(out)
    assert out.sent_bytes == 163 and synth.voice == brass_voices[4]


async def test_dump_waits_until_no_note_is_held(make_out: Callable, brass_voices: list[Voice]) -> None:
    held = [1]
    out, synth, _ = make_out(lambda: held[0], mode=("dump",), dump_debounce_ms=0.0, dump_wait_notes=True)
    out.send_voice(brass_voices[7])
    await asyncio.sleep(0.1)
    assert out.sent_bytes == 0 and out.pending == 1, "a dump would cut the held note"
    held[0] = 0
    await drained(out)
    assert synth.voice == brass_voices[7]


async def test_cc_mode_and_switching_modes(make_out: Callable, brass_voices: list[Voice]) -> None:
    out, synth, _ = make_out(mode=("cc",))
    out.send_voice(brass_voices[9])
    await drained(out)
    carried = sorted(out.cc_map.carried)
    assert [synth.voice.values[i] for i in carried] == [brass_voices[9].values[i] for i in carried]
    out.set_modes(("param",))
    out.send_voice(brass_voices[10])
    await drained(out)
    assert synth.voice == brass_voices[10]


async def test_a_failing_port_is_reported_and_dropped(jack: str, brass_voices: list[Voice]) -> None:
    from bridge.midi.ports import MidiOutput

    port = MidiPortSink(MidiOutput("virtual:dexbridge-test-closed", "jack"))
    synth = EmbeddedSynth()
    errors: list[BaseException] = []
    out = MidiOut(Settings(mode=("param",)), [port, synth], errors.append)
    port.close()  # the port goes away under the daemon
    out.send_voice(brass_voices[3])
    assert len(errors) == 1 and "is closed" in str(errors[0])
    assert out.sinks == [synth] and synth.voice == brass_voices[3]  # the other sink still got everything
    out.all_notes_off()
    await out.aclose()


@pytest.mark.parametrize("mode", ["param", "cc", "dump"])
async def test_resync_brings_a_synth_that_lost_its_state_back_in_each_mode(make_out: Callable, brass_voices: list[Voice],
                                                                          mode: str) -> None:
    out, synth, errors = make_out(mode=(mode,), dump_debounce_ms=0.0)
    out.send_voice(brass_voices[4])
    await drained(out)
    synth.receiver = type(synth.receiver)(cc_map=synth.receiver.cc_map)  # the synth restarted: it holds INIT VOICE
    out.send_voice(brass_voices[4])
    await drained(out)
    if mode != "dump":  # a dump always carries the whole voice
        assert synth.voice != brass_voices[4], "nothing changed, so nothing was sent"
    out.resync(brass_voices[4])
    await drained(out)
    expected = brass_voices[4] if mode != "cc" else brass_voices[4].with_name(Voice.init().name)  # no CC carries the name
    assert synth.voice == expected and errors == []
