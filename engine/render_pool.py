"""Renders on every core: worker processes, each with its own dexed-py synth, that score batches of voices
against a search's targets.

dexed-py renders one note on one core and holds Python's lock while it does, so threads do not help: the
search spends nearly all its time rendering, and more cores need more processes. A batch of voices is split
over the workers and its scores come back in the batch's order, so what a search does with them never
depends on how many workers there are or how busy they are: the same recording and seed give the same voice
on any machine (the search's batches have a fixed size, not one per worker).

Workers start from a fresh interpreter (``forkserver``: no threads, JACK clients or torch state of the
calling process are inherited) and load the synth once; each batch carries its targets. A worker exits as
soon as the process that started it ends, even by SIGKILL, instead of rendering on for nobody.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from engine.cores import one_blas_thread
from engine.search_score import ScoreTarget, score_renders
from models.render import NOTE_SECONDS, Renderer
from models.voice import Voice

__all__ = ["RenderPool"]

_worker: dict[str, Renderer] = {}
"""This worker process's synth."""


def _start_worker(sample_rate: int, render_seconds: float) -> None:
    one_blas_thread()  # the pool is the parallelism: a worker's BLAS threads would only fight the others
    _worker["renderer"] = Renderer(sample_rate, NOTE_SECONDS, render_seconds)
    threading.Thread(target=_exit_with_parent, name="dexbridge-parent-watch", daemon=True).start()


def _exit_with_parent() -> None:
    """Wait for the process that started this worker to end, then end this one."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        parent.join()
        os._exit(0)


def _score_batch(targets: Sequence[ScoreTarget], voices: Sequence[tuple[int, ...]]) -> list[float]:
    return [score_renders(_worker["renderer"], Voice.from_values(values), targets) for values in voices]


class RenderPool:
    """Worker processes that score voices against targets (:func:`engine.search_score.score_renders`).

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
        context.set_forkserver_preload([__name__])
        self._executor = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                             initargs=(sample_rate, render_seconds))
        atexit.register(self.close)

    def scores(self, voices: Sequence[Voice], targets: Sequence[ScoreTarget]) -> list[float]:
        """The score of each voice against ``targets``, in the voices' order."""
        if not voices:
            return []
        shares = [list(voices[i :: self.workers]) for i in range(min(self.workers, len(voices)))]
        futures = [self._executor.submit(_score_batch, targets, [v.values for v in share]) for share in shares]
        ordered = [0.0] * len(voices)
        for offset, future in enumerate(futures):
            ordered[offset :: self.workers] = future.result()
        return ordered

    def close(self) -> None:
        """Stop the workers."""
        self._executor.shutdown(wait=True, cancel_futures=True)
