"""A compiled loop is cached where Numba can write its cache, and still compiles where it cannot."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from numba.core import caching

from models.compiled import compiled


def _double(values: np.ndarray) -> np.ndarray:
    return values * 2.0


def test_a_loop_is_cached_on_disk_where_it_can_be() -> None:
    loop = compiled(_double)
    assert isinstance(loop, numba.core.registry.CPUDispatcher)
    assert loop._cache.cache_path  # a folder Numba could write to
    np.testing.assert_array_equal(loop(np.arange(3.0)), [0.0, 2.0, 4.0])


def test_without_a_writable_cache_folder_the_loop_compiles_in_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])  # as when no folder is writable
    with pytest.raises(RuntimeError, match="cannot cache"):
        numba.njit(cache=True)(_double)  # what compiled() meets there
    loop = compiled(_double)
    np.testing.assert_array_equal(loop(np.arange(3.0)), [0.0, 2.0, 4.0])


def _sum(values: np.ndarray) -> float:
    total = 0.0
    for value in values:
        total += value
    return total


def test_a_reassociated_sum_differs_from_numpys_by_rounding_only() -> None:
    values = np.random.default_rng(0).standard_normal(100_001)
    loop = compiled(reassociate=True)(_sum)
    assert isinstance(loop, numba.core.registry.CPUDispatcher)
    assert loop.targetoptions["fastmath"] == {"reassoc"}
    assert loop(values) == pytest.approx(float(np.sum(values)), rel=1e-12, abs=1e-9)
