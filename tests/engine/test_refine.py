"""Render-and-compare refinement on dexed-py renders of a real bank."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bridge.midi.syxfile import read_syx_voices
from engine.refine import Refiner
from models.metrics import stft_magnitude
from models.render import SAMPLE_RATE, SINGLE_NOTE, Renderer
from models.voice import Voice


@pytest.fixture(scope="module")
def brass(brass_path: Path) -> list[Voice]:
    return [item.voice for item in read_syx_voices(brass_path).voices]


@pytest.fixture(scope="module")
def refiner() -> Refiner:
    return Refiner(SINGLE_NOTE, SAMPLE_RATE, 4.0)


def test_refinement_improves_on_a_wrong_start_and_is_deterministic(refiner: Refiner, brass: list[Voice]) -> None:
    target = Renderer().render_notes(brass[0], SINGLE_NOTE)
    start = brass[0].replace({5 * 21 + 16: 60})  # OP1 output level (OP1 is the last block) far from its value
    first = refiner.refine(start, target, budget_ms=float("inf"), max_evaluations=25, seed=3)
    again = refiner.refine(start, target, budget_ms=float("inf"), max_evaluations=25, seed=3)
    assert first.voice == again.voice and first.score == again.score and first.evaluations == 25
    assert first.score < first.start_score
    assert first.score == pytest.approx(refiner.score(first.voice, stft_magnitude(target)))


def test_the_start_is_kept_when_it_is_already_exact(refiner: Refiner, brass: list[Voice]) -> None:
    target = Renderer().render_notes(brass[1], SINGLE_NOTE)
    result = refiner.refine(brass[1], target, budget_ms=float("inf"), max_evaluations=6, seed=0)
    assert result.voice == brass[1] and result.start_score == result.score == 0.0


def test_the_time_budget_bounds_the_search(refiner: Refiner, brass: list[Voice]) -> None:
    target = Renderer().render_notes(brass[2], SINGLE_NOTE)
    result = refiner.refine(Voice.init(), target, budget_ms=60.0, seed=0)
    assert result.evaluations >= 1 and result.elapsed_ms < 60.0 + 40.0  # at most one render past the estimate
    assert result.score <= result.start_score
    np.testing.assert_array_equal(result.voice["transpose"], 24)
