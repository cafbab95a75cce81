"""How many cores this process may use (its CPU affinity, where the OS reports one)."""

from __future__ import annotations

import os

__all__ = ["all_cores"]


def all_cores() -> int:
    """Every core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
