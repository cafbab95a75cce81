"""The render pool: its workers end with the process that started them, even when it is killed; targets go to each once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from engine.render_pool import RenderPool

SCRIPT = """
import os, sys, time
from engine.render_pool import RenderPool
pool = RenderPool(2, 44100, 4.0)
print(pool._executor.submit(os.getpid).result(), flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split()[2] != "Z"  # a zombie has ended: it only waits to be reaped
    except FileNotFoundError:
        return False


def test_a_worker_exits_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True,
                              cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        assert _alive(worker)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(worker), "the render worker outlived the process that started it"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
        if parent.stdout is not None:
            parent.stdout.close()


def _scored_until_both_keep(pool: RenderPool, voices: list, targets: list) -> list[float]:
    """Score ``voices`` against ``targets`` until both workers have said they keep them (an idle worker takes the next
    share, so one worker may take every share of a few batches); the last scores."""
    for _ in range(100):
        scores = pool.scores(voices, targets)
        if [target for _, target in pool._keyed(pool._serials_of(targets), targets)] == [None] * len(targets):
            return scores
    raise AssertionError("after 100 batches one worker still had not been sent the targets")


def test_targets_go_to_each_worker_once_and_are_sent_again_to_a_worker_that_dropped_them(brass_voices: list) -> None:
    from engine.render_pool import TARGETS_KEPT, RenderPool
    from engine.search_score import score_renders, targets_of
    from engine.takes import Take
    from models.render import NOTE_SECONDS, SAMPLE_RATE, Renderer

    renderer = Renderer(SAMPLE_RATE, NOTE_SECONDS, 4.0)
    voices = brass_voices[:4]
    # one target per take, more than a worker keeps: the first is dropped by the time it comes back
    targets = [targets_of([Take(renderer.render(voice, 48 + n, 85), SAMPLE_RATE, 48 + n, 85)], SAMPLE_RATE)
               for n, voice in enumerate(brass_voices[: TARGETS_KEPT + 1])]
    pool = RenderPool(2, SAMPLE_RATE, 4.0)
    try:
        expected = pool.scores(voices, targets[0])
        assert expected == pytest.approx([score_renders(renderer, voice, targets[0]) for voice in voices], rel=1e-6)
        assert _scored_until_both_keep(pool, voices, targets[0]) == expected  # sent by number alone now, the same scores
        for more in targets[1:]:  # (BLAS on one thread there, on several here: float32 mel sums in another order)
            _scored_until_both_keep(pool, voices, more)
        forget, forgotten = pool._forget, []
        pool._forget = lambda pid: (forgotten.append(pid), forget(pid))  # type: ignore[method-assign]
        assert pool.scores(voices, targets[0]) == expected  # sent again, the batch re-run: the same scores
        assert forgotten, "both workers had dropped the first target: the batch should have come back"
        six = [target for found in targets[:6] for target in found]
        assert pool.scores(voices, six) == pytest.approx([score_renders(renderer, voice, six) for voice in voices], rel=1e-6)
    finally:
        pool.close()
