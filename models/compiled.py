"""Numba-compiled loops (the latent decode's, the planner's distances): compiled once, cached on disk where it can be.

Numba caches a compiled function beside its source, or in the user's cache folder; where neither is writable
(a read-only install run by a user without a home folder) it refuses to cache, and the loop is then compiled in
each process instead (about 2 s at the first call), rather than failing to import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numba

__all__ = ["compiled"]

logger = logging.getLogger(__name__)


def compiled(function: Callable[..., Any] | None = None, *, reassociate: bool = False) -> Any:
    """``function`` compiled by Numba in nopython mode, without the GIL, cached on disk where it can be.

    Used bare (``@compiled``) or with ``reassociate=True`` (``@compiled(reassociate=True)``): floating-point sums
    may then be reordered, which lets a reduction run on SIMD lanes (the result moves by rounding only).
    """
    if function is None:
        return lambda later: compiled(later, reassociate=reassociate)
    options: dict[str, Any] = {"nogil": True, "boundscheck": False}
    if reassociate:
        options["fastmath"] = {"reassoc"}
    try:
        return numba.njit(cache=True, **options)(function)
    except RuntimeError as error:  # Numba: "cannot cache function ...: no locator available for file ..."
        if "cannot cache" not in str(error):
            raise
        logger.info("no writable folder for Numba's cache (%s): %s is compiled in this process", error,
                    function.__qualname__)
        return numba.njit(**options)(function)
