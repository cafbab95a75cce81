"""How many cores this process may use (its CPU affinity, where the OS reports one), and how many its BLAS may."""

from __future__ import annotations

import os

__all__ = ["all_cores", "one_blas_thread"]


def all_cores() -> int:
    """Every core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def one_blas_thread() -> None:
    """Keep NumPy's BLAS to one thread in this process. The engine's products are small (a mel filter bank on
    one spectrogram, a flow's matrix-vector products): a second BLAS thread gains nothing on them, and when
    the other core is busy each product waits for it (a recording's mel spectrogram took 24 ms instead of
    0.6 ms with a render running beside it). The engine's parallelism is its render processes."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")
