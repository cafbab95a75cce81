"""The engine's asyncio face: one inference thread and a bounded audio job queue.

The event loop never runs the model: :meth:`InferenceWorker.infer` and :meth:`~InferenceWorker.infer_takes`
hand work to the worker's thread and await a future that the thread resolves through
``loop.call_soon_threadsafe``. Audio jobs are never dropped silently: a full queue refuses the
job at once with :class:`~models.errors.WorkerBusyError`. The thread runs one job at a time. A latent
decode is not a job: it is one bounded compiled loop that the control loop runs on the event loop
(:mod:`bridge.daemon.control_loop`), so a control never waits behind a search.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from models.errors import WorkerBusyError, WorkerStoppedError

__all__ = ["InferenceEngine", "InferenceWorker"]

logger = logging.getLogger(__name__)

InferenceT = TypeVar("InferenceT", covariant=True)


class InferenceEngine(Protocol[InferenceT]):
    """What the worker calls (``engine.runtime.Engine``): synchronous and thread-safe."""

    def infer(self, audio: np.ndarray, sample_rate: int, **options: Any) -> InferenceT: ...

    def infer_takes(self, takes: Any, **options: Any) -> InferenceT: ...


@dataclass
class _Job:
    """One unit of work for the thread and the futures waiting on its result."""

    run: Callable[[], Any]
    waiters: list[asyncio.Future[Any]] = field(default_factory=list)


class InferenceWorker(Generic[InferenceT]):
    """Runs an engine on one thread for asyncio callers.

    Args:
        engine: any object with the engine's ``infer`` and ``decode``.
        max_jobs: audio jobs that may wait (beyond the one running) before new ones are refused.

    Raises:
        ValueError: ``max_jobs`` < 1.
    """

    def __init__(self, engine: InferenceEngine[InferenceT], max_jobs: int = 4) -> None:
        if max_jobs < 1:
            raise ValueError(f"max_jobs = {max_jobs}: need at least 1 queued audio job")
        self.engine = engine
        self.max_jobs = max_jobs
        self._jobs: deque[_Job] = deque()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._accepting = False
        self._closing = False
        self._busy = False

    @property
    def jobs_queued(self) -> int:
        """Audio jobs waiting (not counting the one running)."""
        return len(self._jobs)

    @property
    def running(self) -> bool:
        """Whether the worker accepts requests."""
        return self._accepting

    async def start(self) -> None:
        """Start the inference thread (idempotent while running).

        Raises:
            WorkerStoppedError: the worker was stopped (a stopped worker does not restart; make a new one).
        """
        if self._accepting:
            return
        if self._closing:
            raise WorkerStoppedError("this inference worker was stopped: create a new InferenceWorker")
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._serve, name="dexbridge-inference", daemon=True)
        self._accepting = True
        self._thread.start()

    async def infer(self, audio: np.ndarray, sample_rate: int, **options: Any) -> InferenceT:
        """The engine's ``infer`` on the worker thread (``options`` pass through: ``search``, ``on_better``,
        ``should_stop``, ...; callbacks run on the worker thread).

        Raises:
            WorkerBusyError: ``max_jobs`` audio jobs are already waiting (nothing was queued).
            WorkerStoppedError: the worker is not running, or stopped before the job ran.
            Exception: whatever the engine raises for this input (``ModelInputError``, ...).
        """
        return await self._queue_job(lambda: self.engine.infer(audio, sample_rate, **options))

    async def _queue_job(self, run: Callable[[], Any]) -> Any:
        future = self._new_future()
        with self._wake:
            if len(self._jobs) >= self.max_jobs:
                raise WorkerBusyError(
                    f"busy: {len(self._jobs)} jobs queued (limit {self.max_jobs}); retry later or raise max_jobs"
                )
            self._jobs.append(_Job(run, [future]))
            self._wake.notify()
        return await future

    async def infer_takes(self, takes: Any, **options: Any) -> InferenceT:
        """The engine's ``infer_takes`` (several takes of one sound -> one voice) on the worker thread.

        Raises:
            WorkerBusyError, WorkerStoppedError, Exception: as :meth:`infer`.
        """
        return await self._queue_job(lambda: self.engine.infer_takes(takes, **options))

    async def stop(self, timeout: float = 5.0) -> None:
        """Refuse new requests, let queued jobs finish for up to ``timeout`` seconds, then fail
        the ones still waiting with :class:`WorkerStoppedError` and join the thread (the job
        running then completes and delivers its result first). Idempotent."""
        if self._thread is None:
            self._accepting, self._closing = False, True
            return
        self._accepting = False
        deadline = asyncio.get_running_loop().time() + timeout
        while (self._jobs or self._busy) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.005)
        with self._wake:
            self._closing = True
            abandoned = list(self._jobs)
            self._jobs.clear()
            self._wake.notify()
        for job in abandoned:
            self._settle(job, WorkerStoppedError("the inference worker stopped before this request ran: resend it"), True)
        thread, self._thread = self._thread, None
        await asyncio.to_thread(thread.join)
        await asyncio.sleep(0)  # let the last call_soon_threadsafe deliveries run
        if abandoned:
            logger.warning("worker.stop: %d queued request(s) not run", len(abandoned))

    def _new_future(self) -> asyncio.Future[Any]:
        if not self._accepting:
            raise WorkerStoppedError("the inference worker is not running: await worker.start() first (or it was stopped)")
        return asyncio.get_running_loop().create_future()

    def _next_job(self) -> _Job | None:
        """The oldest audio job; ``None`` once closing."""
        with self._wake:
            while not self._closing and not self._jobs:
                self._wake.wait()
            if self._closing:
                return None
            job = self._jobs.popleft()
            self._busy = True
            return job

    def _serve(self) -> None:
        while (job := self._next_job()) is not None:
            try:
                result: Any = job.run()
                failed = False
            except Exception as error:  # noqa: BLE001 - handed to the awaiting callers, who raise it
                result, failed = error, True
            with self._wake:
                self._busy = False
            self._settle(job, result, failed)

    def _settle(self, job: _Job, outcome: Any, failed: bool) -> None:
        """Resolve the job's futures on their loop (from any thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(_resolve, job.waiters, outcome, failed)


def _resolve(waiters: list[asyncio.Future[Any]], outcome: Any, failed: bool) -> None:
    for future in waiters:
        if future.done():  # the caller gave up (cancelled its await)
            continue
        if failed:
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
