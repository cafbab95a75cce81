"""InferenceWorker with the real Engine (tiny checkpoint, eager torch): results, back-pressure, clean stop."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import numpy as np
import pytest

from engine.runtime import Engine, Inference
from engine.worker import InferenceWorker
from models.errors import SilentInputError, WorkerBusyError, WorkerStoppedError

RATE = 44_100


def _tone(hz: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (0.4 * np.sin(2 * np.pi * hz * t) * np.exp(-1.5 * t)).astype(np.float32)


@pytest.fixture(scope="module")
def engine(tiny_checkpoint: Path) -> Engine:
    return Engine.load(tiny_checkpoint, backend="torch", search=False)


class GatedEngine:
    """The real engine behind a gate: ``infer`` announces itself, then waits for the gate
    before running the real inference, so a test can hold the worker thread busy. Records the
    order in which calls ran."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.calls: list[str] = []

    def infer(self, audio: np.ndarray, sample_rate: int, *, search: bool | None = None) -> Inference:
        self.entered.set()
        assert self.gate.wait(10), "test never opened the gate"
        self.calls.append("infer")
        return self.engine.infer(audio, sample_rate, search=search)


async def _held_worker(engine: Engine, max_jobs: int = 4) -> tuple[GatedEngine, InferenceWorker, asyncio.Task[Inference]]:
    """A started worker over a :class:`GatedEngine`, its thread held by an inference task
    until ``gated.gate`` opens."""
    gated = GatedEngine(engine)
    worker = InferenceWorker(gated, max_jobs=max_jobs)
    await worker.start()
    task = asyncio.create_task(worker.infer(_tone(220), RATE))
    assert await asyncio.to_thread(gated.entered.wait, 10)
    return gated, worker, task


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_infer_matches_the_engine(engine: Engine) -> None:
    worker = InferenceWorker(engine, max_jobs=2)
    await worker.start()
    try:
        inference = await worker.infer(_tone(330), RATE)
        direct = engine.infer(_tone(330), RATE)
        assert inference.voice == direct.voice
        np.testing.assert_allclose(inference.latent, direct.latent, atol=1e-5)
    finally:
        await worker.stop()


async def test_engine_errors_reach_the_caller(engine: Engine) -> None:
    worker = InferenceWorker(engine)
    await worker.start()
    try:
        with pytest.raises(SilentInputError):
            await worker.infer(np.zeros(RATE, np.float32), RATE)
        assert (await worker.infer(_tone(440), RATE)).voice is not None  # still serving after errors
    finally:
        await worker.stop()


async def test_full_queue_refuses_at_once_and_drops_nothing(engine: Engine) -> None:
    gated, worker, running = await _held_worker(engine, max_jobs=2)
    queued = [asyncio.create_task(worker.infer(_tone(hz), RATE)) for hz in (260, 300)]
    await _settle()
    assert worker.jobs_queued == 2
    with pytest.raises(WorkerBusyError, match=r"busy: 2 jobs queued \(limit 2\); retry later"):
        await worker.infer(_tone(350), RATE)
    gated.gate.set()
    results = await asyncio.gather(running, *queued)
    assert all(isinstance(result, Inference) for result in results) and gated.calls == ["infer"] * 3
    await worker.stop()


async def test_stop_finishes_the_running_job_and_fails_the_waiting_ones(engine: Engine) -> None:
    gated, worker, running = await _held_worker(engine)
    waiting = asyncio.create_task(worker.infer(_tone(600), RATE))
    await _settle()
    asyncio.get_running_loop().call_later(0.2, gated.gate.set)
    await worker.stop(timeout=0.05)
    assert isinstance(await running, Inference)
    with pytest.raises(WorkerStoppedError, match="stopped before this request ran"):
        await waiting
    with pytest.raises(WorkerStoppedError, match="not running"):
        await worker.infer(_tone(220), RATE)
    with pytest.raises(WorkerStoppedError, match="create a new InferenceWorker"):
        await worker.start()
    await worker.stop()  # idempotent


async def test_stop_drains_queued_jobs_within_the_timeout(engine: Engine) -> None:
    worker = InferenceWorker(engine)
    await worker.start()
    jobs = [asyncio.create_task(worker.infer(_tone(hz), RATE)) for hz in (200, 250, 300)]
    await _settle()
    await worker.stop(timeout=60)
    assert all(isinstance(job.result(), Inference) for job in jobs)


async def test_requests_before_start_are_refused(engine: Engine) -> None:
    worker = InferenceWorker(engine)
    with pytest.raises(WorkerStoppedError, match=r"await worker.start\(\) first"):
        await worker.infer(_tone(220), RATE)
    with pytest.raises(ValueError, match="max_jobs = 0"):
        InferenceWorker(engine, max_jobs=0)
