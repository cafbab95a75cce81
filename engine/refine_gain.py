"""What refinement gains: corpus voices rendered as input, inferred without refinement, then refined
at several time budgets (``dexbridge refine-gain``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from engine.conditioning import REFERENCE_NOTE
from engine.refine import RefineResult
from engine.runtime import Engine
from models.errors import ModelInputError
from models.render import NOTE_SECONDS, Renderer
from models.voice import Voice

__all__ = ["GainRow", "refine_gain"]


@dataclass(frozen=True)
class GainRow:
    """Refinement's mean effect at one budget over a set of voices.

    Attributes:
        budget_ms: the time budget.
        start_spec_mae: mean spec_mae of the network's voices.
        refined_spec_mae: mean spec_mae after refinement.
        elapsed_ms: mean time refinement took.
        evaluations: mean renders scored.
        gain_per_100ms: (start - refined) per 100 ms actually spent.
    """

    budget_ms: float
    start_spec_mae: float
    refined_spec_mae: float
    elapsed_ms: float
    evaluations: float
    gain_per_100ms: float


def refine_gain(engine: Engine, voices: Sequence[Voice], budgets_ms: Sequence[float], *, seed: int = 0,
                progress: bool = False) -> list[GainRow]:
    """Measure what refinement gains: each voice is rendered on the reference note (the input),
    inferred without refinement, then refined from the network's voice at each budget.

    Args:
        engine: the model under test.
        voices: e.g. the test split of a corpus.
        budgets_ms: the time budgets to compare.
        seed: refinement's seed.
        progress: show a progress bar.

    Returns:
        One row per budget.
    """
    renderer = Renderer(engine.sample_rate, NOTE_SECONDS, engine.checkpoint.config.frontend.duration_s)
    rows: dict[float, list[RefineResult]] = {budget: [] for budget in budgets_ms}
    for voice in tqdm(voices, desc="refine-gain", unit="voice", disable=not progress):
        try:
            inference = engine.infer(renderer.render(voice, REFERENCE_NOTE), engine.sample_rate, refine=False)
        except ModelInputError:
            continue  # silent or noise-like renders are refused as user input would be
        for budget in budgets_ms:
            rows[budget].append(engine.refiner.refine(inference.voice, inference.model_input, budget_ms=budget, seed=seed))
    return [_gain_row(budget, results) for budget, results in rows.items() if results]


def _gain_row(budget: float, results: list[RefineResult]) -> GainRow:
    start = float(np.mean([r.start_score for r in results]))
    refined = float(np.mean([r.score for r in results]))
    elapsed = float(np.mean([r.elapsed_ms for r in results]))
    return GainRow(budget, start, refined, elapsed, float(np.mean([r.evaluations for r in results])),
                   (start - refined) * 100.0 / elapsed)
