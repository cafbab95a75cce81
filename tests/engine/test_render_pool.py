"""The render pool's workers end with the process that started them, even when it is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

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
