"""glibc's malloc settings: a freed large block stays in the heap for the next allocation, unless the user says otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys

_PROBE = """
import ctypes, json, sys
import numpy as np
from engine.allocator import keep_large_blocks

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
kept = keep_large_blocks() if sys.argv[1] == "keep" else None
before = libc.mallinfo2()
block = np.ones(1 << 20)  # 8 MiB, as a score's frames of a 4 s render are a few
during = libc.mallinfo2()
del block
after = libc.mallinfo2()
print(json.dumps({"kept": kept, "mapped": during.hblkhd - before.hblkhd, "free_after": after.fordblks - before.fordblks}))
"""


def _probe(mode: str, **environment: str) -> dict[str, object]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("MALLOC_") and name != "GLIBC_TUNABLES"} | environment
    done = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, env=env, timeout=60,
                          check=True)
    return json.loads(done.stdout)


def test_a_freed_large_block_stays_in_the_heap_for_the_next_voice() -> None:
    default = _probe("default")
    assert default["mapped"] >= 1 << 23, "glibc maps a first 8 MiB block on its own: the case the settings are for"
    kept = _probe("keep")
    assert kept["kept"] is True
    assert kept["mapped"] == 0, "the block came from the heap"
    assert kept["free_after"] >= 7 << 20, "and, freed, it stays there for the next allocation"
    assert default["free_after"] < 1 << 20, "where glibc, by default, hands it back"


def test_the_users_own_malloc_settings_win() -> None:
    probe = _probe("keep", MALLOC_TRIM_THRESHOLD_="131072")
    assert probe["kept"] is False
    assert probe["mapped"] >= 1 << 23, "glibc's settings as the user set them"
