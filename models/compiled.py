"""Numba-compiled loops (the latent decode's): compiled once and cached on disk where a folder is writable.

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


def compiled(function: Callable[..., Any]) -> Any:
    """``function`` compiled by Numba in nopython mode, without the GIL, cached on disk where it can be."""
    try:
        return numba.njit(nogil=True, cache=True, boundscheck=False)(function)
    except RuntimeError as error:  # Numba: "cannot cache function ...: no locator available for file ..."
        if "cannot cache" not in str(error):
            raise
        logger.info("no writable folder for Numba's cache (%s): %s is compiled in this process", error,
                    function.__qualname__)
        return numba.njit(nogil=True, boundscheck=False)(function)
