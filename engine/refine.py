"""Render-and-compare refinement: a bounded, gradient-free search around the network's answer.

A (1+1) evolution strategy on the voice's parameters: each candidate changes one or two
learnable parameters of the best voice so far (numerical ones by a few steps, categorical ones
to another class; the parameters that shape the sound most are drawn more often), is rendered
with dexed-py on the model's notes and scored by :func:`models.metrics.spec_mae` against the
conditioned input; it replaces the best voice only when it scores lower. So the result is never
worse than the start on this objective. The search stops at a time budget (milliseconds) or an
evaluation count; with an evaluation count it is deterministic for a seed (a time budget makes
the count depend on the machine's speed).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.metrics import spec_mae, stft_magnitude
from models.params import LEARNABLE, TRANSPOSE_CENTRE, TRANSPOSE_INDEX, Kind, ParamSpec
from models.render import NOTE_SECONDS, Note, Renderer
from models.voice import Voice

__all__ = ["DEFAULT_BUDGET_MS", "REFINE_BY_DEFAULT", "RefineResult", "Refiner"]

DEFAULT_BUDGET_MS = 100.0
REFINE_BY_DEFAULT = True
"""On: ``dexbridge refine-gain`` measured a lower spec_mae within the default budget (48 test voices,
lean checkpoint: 1.231 -> 1.212 at 100 ms, about 7 renders; README, "dexbridge infer")."""
SENSITIVE = ("output_level", "coarse", "fine", "eg_rate1", "eg_rate2", "eg_level2", "eg_level3", "feedback", "algorithm")
SENSITIVE_WEIGHT = 3.0
NUMERICAL_STEP = 0.08  # standard deviation of a numerical change, as a share of the parameter's span


@dataclass(frozen=True)
class RefineResult:
    """What a search found.

    Attributes:
        voice: the best voice (the start voice when nothing scored lower).
        start_score: spec_mae of the start voice's render against the target.
        score: spec_mae of the best voice.
        evaluations: renders scored, the start included.
        elapsed_ms: time spent.
    """

    voice: Voice
    start_score: float
    score: float
    evaluations: int
    elapsed_ms: float


def _draw_weights() -> np.ndarray:
    kinds = [p.name.split("_", 1)[1] if p.op is not None else p.name for p in LEARNABLE]  # op3_coarse -> coarse
    weights = np.array([SENSITIVE_WEIGHT if kind in SENSITIVE else 1.0 for kind in kinds])
    return weights / weights.sum()


_WEIGHTS = _draw_weights()


def _mutated(voice: Voice, rng: np.random.Generator) -> Voice:
    """``voice`` with one or two learnable parameters changed."""
    changes: dict[int, int] = {}
    for index in rng.choice(len(LEARNABLE), size=int(rng.integers(1, 3)), replace=False, p=_WEIGHTS):
        spec: ParamSpec = LEARNABLE[int(index)]
        value = voice[spec.index]
        if spec.kind is Kind.CATEGORICAL:
            others = [v for v in range(spec.lo, spec.hi + 1) if v != value]
            changes[spec.index] = int(rng.choice(others))
        else:
            step = int(np.rint(rng.normal(0.0, NUMERICAL_STEP * (spec.hi - spec.lo))))
            step = step if step != 0 else int(rng.choice((-1, 1)))
            changes[spec.index] = min(max(value + step, spec.lo), spec.hi)
    return voice.replace(changes)


class Refiner:
    """Searches voices whose renders match a target; thread-safe (one dexed-py synth per thread).

    Args:
        notes: the model's (note, velocity) set: candidates are rendered on these.
        sample_rate: the model rate.
        render_seconds: the model window.
    """

    def __init__(self, notes: Sequence[Note], sample_rate: int, render_seconds: float) -> None:
        self.notes = tuple(notes)
        self.sample_rate = sample_rate
        self.render_seconds = render_seconds
        self._local = threading.local()

    def _renderer(self) -> Renderer:
        renderer = getattr(self._local, "renderer", None)
        if renderer is None:
            renderer = self._local.renderer = Renderer(self.sample_rate, NOTE_SECONDS, self.render_seconds)
        return renderer

    def score(self, voice: Voice, target_magnitude: np.ndarray) -> float:
        """spec_mae between the voice's render (transpose centred, as the model hears it) and a target."""
        centred = voice.replace({TRANSPOSE_INDEX: TRANSPOSE_CENTRE})
        return spec_mae(target_magnitude, stft_magnitude(self._renderer().render_notes(centred, self.notes)))

    def refine(self, voice: Voice, target_audio: np.ndarray, *, budget_ms: float = DEFAULT_BUDGET_MS,
               max_evaluations: int | None = None, seed: int = 0) -> RefineResult:
        """Search around ``voice`` for a voice whose render is closer to ``target_audio``.

        Args:
            voice: the start (the network's answer); its transpose and name are kept.
            target_audio: (notes, samples) conditioned input at the model rate.
            budget_ms: stop before a render would end past this many milliseconds.
            max_evaluations: also stop after this many renders (the start included).
            seed: seeds the candidate draws.

        Returns:
            The best voice and its score; never scoring worse than ``voice``.
        """
        started = time.perf_counter()
        target = stft_magnitude(target_audio)
        best, best_score = voice, self.score(voice, target)
        start_score, evaluations, seen = best_score, 1, {voice.values}
        rng = np.random.default_rng(seed)
        limit = max_evaluations if max_evaluations is not None else np.inf
        while evaluations < limit:
            elapsed = (time.perf_counter() - started) * 1000.0
            if elapsed + elapsed / evaluations > budget_ms:
                break
            candidate = _mutated(best, rng)
            if candidate.values in seen:
                continue
            seen.add(candidate.values)
            score = self.score(candidate, target)
            evaluations += 1
            if score < best_score:
                best, best_score = candidate, score
        return RefineResult(best, start_score, best_score, evaluations, (time.perf_counter() - started) * 1000.0)
