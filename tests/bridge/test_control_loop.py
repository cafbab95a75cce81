"""The control loop: latest wins, slew to the exact target, a bounded number of voices per sweep.

The latent space here is the ``num`` representation's (a real, linear map of the DX7 parameters),
decoded on the loop, as the daemon decodes with ``Engine.decode``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from bridge.daemon.control_loop import ControlLoop
from bridge.midi.sysex import encode_param_change
from bridge.midi.syxfile import read_syx_voices
from models.errors import ModelInputError
from models.representations import get_representation
from models.voice import Voice

NUM = get_representation("num")


class Harness:
    def __init__(self, a: Voice, b: Voice) -> None:
        self.a, self.b = NUM.encode(a), NUM.encode(b)
        self.voices: list[Voice] = []
        self.errors: list[BaseException] = []
        self.settled = asyncio.Event()

    def decode(self, latent: np.ndarray) -> Voice:
        if not np.all(np.isfinite(latent)):
            raise ModelInputError("latent holds NaN")
        return NUM.decode(latent)

    def emit(self, voice: Voice, latent: np.ndarray) -> None:
        assert voice == NUM.decode(latent)
        self.voices.append(voice)

    def between(self, position: np.ndarray) -> np.ndarray:
        return self.a + (self.b - self.a) * float(position[0])

    async def settle(self, loop: ControlLoop) -> None:
        for _ in range(500):
            await asyncio.sleep(0.01)
            if loop.idle:
                return
        pytest.fail("the control loop never settled")


@pytest.fixture
def brass(brass_path: Path) -> list[Voice]:
    return [item.voice for item in read_syx_voices(brass_path).voices]


@pytest.fixture
async def harness(brass: list[Voice]) -> AsyncIterator[tuple[Harness, ControlLoop]]:
    harness = Harness(brass[0], brass[5])
    loop = ControlLoop(harness.decode, harness.emit, harness.errors.append, rate_hz=200, slew_ms=20)
    loop.start()
    yield harness, loop
    await loop.stop()


async def test_a_burst_leaves_no_backlog_and_ends_on_the_last_message(harness: tuple[Harness, ControlLoop]) -> None:
    h, loop = harness
    positions = np.random.default_rng(0).random(10_000)
    positions[-1] = 0.6180
    for x in positions:  # all in one loop turn: the worst case for a backlog
        loop.set("morph", np.array([x]), h.between)
    await h.settle(loop)
    assert h.voices[-1] == NUM.decode(h.between(np.array([0.6180])))
    assert loop.steps <= 60, f"{loop.steps} decodes for one burst: the targets were queued, not replaced"
    assert loop.value("morph") == pytest.approx([0.6180])


async def test_slew_moves_through_intermediate_voices_to_the_exact_target(harness: tuple[Harness, ControlLoop]) -> None:
    h, loop = harness
    loop.set("morph", np.array([0.0]), h.between, slew=False)
    await h.settle(loop)
    start = len(h.voices)
    loop.set("morph", np.array([1.0]), h.between)
    await h.settle(loop)
    path = h.voices[start:]
    assert len(path) >= 3, "a slewed jump should pass through intermediate voices"
    assert path[-1] == NUM.decode(h.b)
    assert path[0] != NUM.decode(h.b)


async def test_a_sweep_sends_a_bounded_number_of_bytes(harness: tuple[Harness, ControlLoop]) -> None:
    h, loop = harness
    loop.set("morph", np.array([0.0]), h.between, slew=False)
    await h.settle(loop)
    start_voice, start = h.voices[-1], len(h.voices)
    messages, seconds = 500, 0.5
    started = asyncio.get_running_loop().time()
    for i in range(1, messages + 1):  # 1 000 messages/s, A -> B
        loop.set("morph", np.array([i / messages]), h.between)
        await asyncio.sleep(seconds / messages)
    await h.settle(loop)
    elapsed = asyncio.get_running_loop().time() - started
    path = h.voices[start:]
    assert len(path) <= 200 * elapsed + 2, f"{len(path)} voices in {elapsed:.2f} s at 200 Hz"
    sent = 0
    previous = start_voice
    for voice in path:
        sent += sum(len(encode_param_change(i, v)) for i, v in previous.diff(voice).items())
        previous = voice
    bound = len(path) * 7 * len(start_voice.diff(NUM.decode(h.b)))
    assert sent <= bound and path[-1] == NUM.decode(h.b)


async def test_controls_keep_their_own_state_and_errors_do_not_stop_the_loop(harness: tuple[Harness, ControlLoop]) -> None:
    h, loop = harness
    loop.set("latent", np.full(h.a.shape, np.nan), lambda z: z, slew=False)
    await h.settle(loop)
    assert len(h.errors) == 1 and "latent holds NaN" in str(h.errors[0])
    loop.set("latent", h.b, lambda z: z, slew=False)
    await h.settle(loop)
    assert h.voices[-1] == NUM.decode(h.b)
    loop.set("morph", np.array([0.0]), h.between)
    await h.settle(loop)
    assert h.voices[-1] == NUM.decode(h.a)
    loop.forget("morph")
    assert loop.value("morph") is None and loop.value("latent") is not None


async def test_a_looked_up_control_needs_no_decode_and_a_finish_shapes_decoded_voices(brass: list[Voice]) -> None:
    decoded: list[np.ndarray] = []
    emitted: list[tuple[Voice, np.ndarray | None]] = []

    def decode(latent: np.ndarray) -> Voice:
        decoded.append(latent)
        return NUM.decode(latent)

    loop = ControlLoop(decode, lambda voice, latent: emitted.append((voice, latent)), pytest.fail, slew_ms=0)
    loop.start()
    try:
        loop.set("morph", np.array([0.25]), to_voice=lambda p: brass[int(p[0] * 4)])
        for _ in range(100):
            await asyncio.sleep(0.005)
            if loop.idle and emitted:
                break
        assert emitted == [(brass[1], None)] and decoded == []
        loop.set("morph", np.array([0.5]), lambda p: NUM.encode(brass[2]), finish=lambda voice, p: voice.with_name("FINISHED"))
        for _ in range(100):
            await asyncio.sleep(0.005)
            if loop.idle and len(emitted) == 2:
                break
        assert emitted[-1][0] == NUM.decode(NUM.encode(brass[2])).with_name("FINISHED") and len(decoded) == 1
        with pytest.raises(ValueError, match="give to_latent or to_voice, exactly one"):
            loop.set("morph", np.array([0.5]))
        with pytest.raises(ValueError, match="exactly one"):
            loop.set("morph", np.array([0.5]), lambda p: p, to_voice=lambda p: brass[0])
    finally:
        await loop.stop()


async def test_a_control_on_an_idle_loop_is_played_before_the_loop_turns(harness: tuple[Harness, ControlLoop]) -> None:
    h, loop = harness
    await asyncio.sleep(0.01)  # the loop task is waiting for a control
    loop.set("morph", np.array([1.0]), h.between, slew=False)
    assert h.voices == [NUM.decode(h.b)]  # emitted inside set(), no await in between
    loop.set("morph", np.array([0.0]), h.between, slew=False)  # within the period: the loop plays it after the period
    assert len(h.voices) == 1
    await h.settle(loop)
    assert h.voices == [NUM.decode(h.b), NUM.decode(h.a)]
