"""CMA-ES on a voice's continuous parameters, its structure frozen: the search's improver at small render budgets.

Separable CMA-ES (``cma``: one variance per parameter) moves the numerical parameters of the best start,
scaled to 0-1, and leaves the frequency structure (coarse and fine ratios, detune, oscillator modes,
the pitch envelope), the algorithm, curves, waves and the LFO as they are, so its candidates stay in tune. Measured at equal
render budgets (``scripts/compare_search.py``, docs/results.md *Which search*), the (1+4)-ES from the best
start scores closer at 250 renders on validation voices, but the instrument and performed notes come out
closer with CMA-ES on every distance there, so it stays the improver up to 250 renders; at the default 500
the ES is closer on validation voices on every distance (0.229 against 0.256 log-spectral MAE).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.params import LEARNABLE, Kind
from models.voice import Voice

__all__ = ["CMA_UP_TO", "ContinuousCma", "continuous_parameters"]

CMA_UP_TO = 250
"""Render budgets up to this use CMA-ES after the starts; larger ones the (1+λ)-ES."""
FROZEN = ("coarse", "fine", "detune", "pitch_eg", "lfo_", "pitch_mod_sens", "amp_mod_sens")
SIGMA = 0.08
"""Initial step, as a share of each parameter's span."""


@dataclass(frozen=True)
class _Space:
    indices: tuple[int, ...]
    lo: np.ndarray
    span: np.ndarray


def continuous_parameters() -> _Space:
    """The parameters CMA-ES moves: numerical, learnable, not frequency or LFO."""
    specs = [p for p in LEARNABLE if p.kind is Kind.NUMERICAL and not any(f in p.name for f in FROZEN)]
    return _Space(tuple(p.index for p in specs), np.array([p.lo for p in specs], float),
                  np.array([p.hi - p.lo for p in specs], float))


class ContinuousCma:
    """Candidates around ``start`` from separable CMA-ES; ask for a generation, tell its scores.

    Args:
        start: the voice whose structure is kept and whose values are the first mean.
        seed: seeds the strategy (``cma`` draws from NumPy's global generator: one search at a time
            per process is reproducible).
    """

    def __init__(self, start: Voice, seed: int) -> None:
        import cma

        self.start = start
        self.space = continuous_parameters()
        x0 = (np.array([start[i] for i in self.space.indices], float) - self.space.lo) / self.space.span
        options = {"bounds": [0.0, 1.0], "seed": seed + 1, "verbose": -9, "CMA_diagonal": True}
        self.strategy = cma.CMAEvolutionStrategy(x0, SIGMA, options)

    @property
    def done(self) -> bool:
        """The strategy has converged or stalled."""
        return bool(self.strategy.stop())

    def voice_at(self, x: np.ndarray) -> Voice:
        """The start with its continuous parameters at ``x`` (0-1, clipped, rounded to whole steps)."""
        values = self.space.lo + np.rint(np.clip(x, 0.0, 1.0) * self.space.span)
        return self.start.replace({i: int(v) for i, v in zip(self.space.indices, values, strict=True)})

    def ask(self) -> list[tuple[np.ndarray, Voice]]:
        """One generation: points and their voices."""
        return [(x, self.voice_at(x)) for x in self.strategy.ask()]

    def tell(self, points: list[np.ndarray], scores: list[float]) -> None:
        """The scores of a whole generation (lower is better)."""
        self.strategy.tell(points, scores)
