"""glibc's malloc, set for the engine's work: a few arenas, and large blocks kept for reuse.

A score allocates and frees arrays of a few megabytes for every voice it plays (a render, its frames, their
spectrum). glibc hands such blocks back to the system as soon as they are freed (a block over its mmap threshold
is unmapped; free memory over its trim threshold at the top of the heap is returned), so the next voice's arrays
are fresh pages that the kernel maps and zeroes one page fault at a time. Kept in the heap, a score takes 8.3 ms
instead of 11.5 ms on the 2-core development machine (p50, ``dexbridge bench --score``). Each setting is left to
the user where the environment already makes it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["ARENAS", "MMAP_THRESHOLD", "TRIM_THRESHOLD", "cap_arenas", "keep_large_blocks"]

ARENAS = 2
MMAP_THRESHOLD = 32 << 20
"""Blocks this large or larger are mapped on their own: glibc's own ceiling for the threshold it raises as it goes."""
TRIM_THRESHOLD = 64 << 20
"""Free memory kept at the top of the heap before any is handed back: a few scores' arrays."""

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameter numbers
_THRESHOLD_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES")


def _mallopt(parameter: int, value: int) -> bool:
    """glibc's ``mallopt``; ``False`` where it fails or there is none (not Linux, or musl)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(parameter, value))
    except (OSError, AttributeError):
        return False


def cap_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas (as ``MALLOC_ARENA_MAX`` would), unless the environment sets it.

    glibc gives threads that allocate arenas of their own and hands little back: under the soak's
    traffic the daemon's memory grew 160 MiB in 9 minutes with the default, 10 MiB with 2 arenas
    (``dexbridge soak``), at the same latencies. Returns whether the cap was set (glibc only).
    """
    return "MALLOC_ARENA_MAX" not in os.environ and _mallopt(_M_ARENA_MAX, arenas)


def keep_large_blocks() -> bool:
    """Keep freed blocks under :data:`MMAP_THRESHOLD` in the heap, and up to :data:`TRIM_THRESHOLD` of free memory
    at its top, for the next allocation to reuse (the module's reason), unless the environment sets glibc's
    thresholds. Returns whether both were set (glibc only)."""
    if any(name in os.environ for name in _THRESHOLD_VARIABLES):
        return False
    return _mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and _mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
