"""Renders on every core: worker processes, each with its own dexed-py synth, that score batches of voices
against a search's targets and measure voices' pitches.

Processes, not threads, because of the pitch readings: scores alone would run nearly as well on threads (dexed-py
and SciPy's FFT let go of Python's lock; two threads scored 1.85x as fast as one on this 2-core machine), but the
pitch tracker's work holds it (two threads read held-still pitches no faster than one). A batch of voices is split
over the workers and its scores come back in the batch's order, so what a search does with them never
depends on how many workers there are or how busy they are: the same recording and seed give the same voice
under any load (the search's batches have a fixed size, not one per worker).

A search's targets (a take's spectrograms, about 0.9 MB for a 4 s take) go to each worker once, not with every
batch: a worker keeps the last :data:`TARGETS_KEPT` it was sent, and the pool sends a target along with a batch until
every worker has said it keeps it (re-sending a batch whose worker no longer does).

Workers start from a fresh interpreter (``forkserver``: no threads, JACK clients or torch state of the
calling process are inherited) and load the synth and the pitch trackers once, as soon as the pool is made (while
the engine loads, not during its first search). A worker exits as
soon as the process that started it ends, even by SIGKILL, instead of rendering on for nobody.
"""

from __future__ import annotations

import atexit
import itertools
import multiprocessing
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from engine.allocator import keep_large_blocks
from engine.cores import one_blas_thread
from engine.pitch import F0Estimate, pitch_renderer, voice_f0
from engine.search_score import ScoreTarget, score_renders, targets_of
from engine.takes import Take
from models.render import NOTE_SECONDS, Renderer
from models.representations import DEFAULT_TEMPLATE
from models.voice import Voice

__all__ = ["RenderPool"]

T = TypeVar("T")

TARGETS_KEPT = 12
"""Targets a worker keeps for the next batches (about 0.9 MB each for a 4 s take; a search on six takes after the
reference take's own is seven). Sent with every batch instead, they made answers take 6-12 % longer (docs/results.md)."""

Keyed = Sequence[tuple[int, ScoreTarget | None]]
"""A batch's targets by serial number, each with the target itself or ``None`` where every worker keeps it."""

_worker: dict[str, Renderer] = {}
"""This worker process's synths: ``"score"`` renders what is scored, ``"pitch"`` what a pitch is read off."""


def _start_worker(sample_rate: int, render_seconds: float) -> None:
    import torch

    from engine.neural_pitch import warm_up

    one_blas_thread()  # the pool is the parallelism: a worker's BLAS threads would only fight the others
    keep_large_blocks()  # a score's arrays reused from one voice to the next (engine.allocator)
    torch.set_num_threads(1)  # likewise the neural pitch check's
    warm_up()
    _worker["pitch"] = pitch_renderer(sample_rate)
    renderer = _worker["score"] = Renderer(sample_rate, NOTE_SECONDS, render_seconds)
    # one score now: its lazy imports and caches (a second) would otherwise fall in the first search
    played = renderer.render(DEFAULT_TEMPLATE)
    score_renders(renderer, DEFAULT_TEMPLATE, targets_of([Take(played, sample_rate, 60, 85)], sample_rate))
    threading.Thread(target=_exit_with_parent, name="dexbridge-parent-watch", daemon=True).start()


def _exit_with_parent() -> None:
    """Wait for the process that started this worker to end, then end this one."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        parent.join()
        os._exit(0)


def _started() -> None:
    """Nothing: submitted once per worker so that every worker starts with the pool."""


_kept: OrderedDict[int, ScoreTarget] = OrderedDict()
"""This worker process's targets by serial number, the least recently used first."""


class TargetsMissing(Exception):
    """A worker was sent a batch without a target it no longer keeps (the pool sends the batch again with it)."""

    def __init__(self, pid: int) -> None:
        super().__init__(pid)

    @property
    def pid(self) -> int:
        """The worker's process id."""
        return int(self.args[0])


def _kept_target(serial: int, target: ScoreTarget | None) -> ScoreTarget:
    if target is not None:
        _kept[serial] = target
    found = _kept.get(serial)
    if found is None:
        raise TargetsMissing(os.getpid())
    _kept.move_to_end(serial)
    return found


def _score_batch(keyed: Keyed, voices: Sequence[tuple[tuple[int, ...], float | None]]) -> tuple[int, list[float]]:
    targets = [_kept_target(serial, target) for serial, target in keyed]
    while len(_kept) > max(TARGETS_KEPT, len(targets)):
        _kept.popitem(last=False)
    return os.getpid(), [score_renders(_worker["score"], Voice.from_values(values), targets, first)
                         for values, first in voices]


def _pitch_batch(played: tuple[int, bool], voices: Sequence[tuple[int, ...]]) -> list[F0Estimate]:
    note, checked = played
    return [voice_f0(Voice.from_values(values), _worker["pitch"], note, checked=checked) for values in voices]


class RenderPool:
    """Worker processes that score voices against targets (:func:`engine.search_score.score_renders`) and measure
    their pitches (:func:`engine.pitch.voice_f0`).

    Args:
        workers: processes (at least 2: one worker is the calling thread's job).
        sample_rate: the model rate.
        render_seconds: the window recordings are compared over.

    Raises:
        ValueError: fewer than 2 workers.
    """

    def __init__(self, workers: int, sample_rate: int, render_seconds: float) -> None:
        if workers < 2:
            raise ValueError(f"a render pool needs at least 2 workers, not {workers}: render in the calling thread")
        self.workers = workers
        context = multiprocessing.get_context("forkserver")  # fork is unsafe once torch runs threads
        context.set_forkserver_preload([__name__, "engine.neural_pitch"])  # imported once, not once per worker
        self._executor = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                             initargs=(sample_rate, render_seconds))
        self._starting = [self._executor.submit(_started) for _ in range(workers)]  # a worker per submit while none is idle
        self._serials: OrderedDict[int, tuple[weakref.ref[ScoreTarget], int]] = OrderedDict()  # id(target) -> serial
        self._holders: dict[int, set[int]] = {}  # serial -> the workers (pids) that said they keep it
        self._counter = itertools.count()
        self._lock = threading.Lock()
        atexit.register(self.close)

    def wait_started(self) -> None:
        """Return once every worker has loaded its synths and pitch trackers (they start with the pool, in the
        background)."""
        for future in self._starting:
            future.result()

    def scores(self, voices: Sequence[Voice], targets: Sequence[ScoreTarget],
               firsts: Sequence[float] | None = None) -> list[float]:
        """The score of each voice against ``targets``, in the voices' order (``firsts``: each one's score against the
        first target alone, already known, :func:`engine.search_score.score_renders`)."""
        serials = self._serials_of(targets)
        shares = self._shares([(v.values, first) for v, first in zip(voices, firsts or [None] * len(voices), strict=True)])
        futures = [self._executor.submit(_score_batch, self._keyed(serials, targets), share) for share in shares]
        results = []
        for share, future in zip(shares, futures, strict=True):
            try:
                pid, scores = future.result()
            except TargetsMissing as missing:
                self._forget(missing.pid)
                pid, scores = self._executor.submit(_score_batch, list(zip(serials, targets, strict=True)), share).result()
            with self._lock:
                for serial in serials:
                    self._holders.setdefault(serial, set()).add(pid)
            results.append(scores)
        return self._ordered(results, len(voices))

    def pitches(self, voices: Sequence[Voice], note: int, checked: bool = True) -> list[F0Estimate]:
        """:func:`engine.pitch.voice_f0` of each voice played at ``note`` (``checked``: with the neural check), in the
        voices' order."""
        return self._map(_pitch_batch, (note, checked), [v.values for v in voices])

    def _serials_of(self, targets: Sequence[ScoreTarget]) -> list[int]:
        """Each target's serial number (a new one for a target not seen among the last ``2 * TARGETS_KEPT``)."""
        serials = []
        with self._lock:
            for target in targets:
                entry = self._serials.get(id(target))
                if entry is None or entry[0]() is not target:  # new, or another object where a dead one was
                    entry = self._serials[id(target)] = (weakref.ref(target), next(self._counter))
                self._serials.move_to_end(id(target))
                serials.append(entry[1])
            while len(self._serials) > 2 * TARGETS_KEPT:
                self._holders.pop(self._serials.popitem(last=False)[1][1], None)
        return serials

    def _keyed(self, serials: Sequence[int], targets: Sequence[ScoreTarget]) -> list[tuple[int, ScoreTarget | None]]:
        """The targets as a batch carries them: those every worker keeps by their serial number alone."""
        with self._lock:
            return [(serial, None if len(self._holders.get(serial, ())) >= self.workers else target)
                    for serial, target in zip(serials, targets, strict=True)]

    def _forget(self, pid: int) -> None:
        """The worker ``pid`` keeps none of the targets it was known to."""
        with self._lock:
            for holders in self._holders.values():
                holders.discard(pid)

    def _shares(self, items: Sequence[Any]) -> list[list[Any]]:
        """The items (one per voice) split across the workers: every ``workers``-th item from each offset."""
        return [list(items[i :: self.workers]) for i in range(min(self.workers, len(items)))]

    def _ordered(self, results: Sequence[list[T]], count: int) -> list[T]:
        """The shares' results (:meth:`_shares`) back in the items' order."""
        ordered: list[T] = [None] * count  # type: ignore[list-item]
        for offset, found in enumerate(results):
            ordered[offset :: self.workers] = found
        return ordered

    def _map(self, job: Callable[[Any, Sequence[Any]], list[T]], argument: Any, items: Sequence[Any]) -> list[T]:
        """``job(argument, share)`` over the items split across the workers; the results in their order."""
        futures = [self._executor.submit(job, argument, share) for share in self._shares(items)]
        return self._ordered([future.result() for future in futures], len(items))

    def close(self) -> None:
        """Stop the workers."""
        self._executor.shutdown(wait=True, cancel_futures=True)
