"""The morph measure on hand-made magnitudes whose answers are known, and on real renders."""

from __future__ import annotations

import numpy as np
import pytest

from engine.eval.morph import (
    PAD_LINES,
    PathScore,
    ends_exact,
    positions,
    score_line,
    score_pad,
    score_path,
    summarise,
)
from engine.morph_path import blend, naive_pad
from models.params import BY_NAME, TRANSPOSE_INDEX
from models.voice import Voice


def magnitudes(*logs: float) -> list[np.ndarray]:
    """One (1, 4, 3) magnitude per value: every bin at 10 ** value (all above the 1e-4 floor)."""
    return [np.full((1, 4, 3), 10.0**value) for value in logs]


def test_a_straight_path_in_log_magnitude_has_equal_steps_no_detour_and_always_heads_to_b() -> None:
    score = score_path(magnitudes(0.0, 0.25, 0.5, 0.75, 1.0))
    assert score.largest_step == pytest.approx(0.25)
    assert score.path_ratio == pytest.approx(1.0) and score.direct == pytest.approx(1.0)
    assert score.toward == 1.0 and score.ends_exact
    assert score.steps == pytest.approx((0.25,) * 4)


def test_a_detour_and_a_step_back_are_counted() -> None:
    score = score_path(magnitudes(0.0, -0.5, 0.5, 1.0), exact=False)  # away from B first, then two steps toward it
    assert score.steps == pytest.approx((0.5, 1.0, 0.5))
    assert score.largest_step == pytest.approx(1.0)
    assert score.path_ratio == pytest.approx(2.0)
    assert score.toward == pytest.approx(2 / 3)
    assert not score.ends_exact


def test_a_path_that_stands_still_does_not_count_as_moving_toward_b() -> None:
    score = score_path(magnitudes(0.0, 0.0, 1.0))
    assert score.toward == pytest.approx(0.5) and score.largest_step == pytest.approx(1.0)
    assert score_path(magnitudes(0.3, 0.3)).path_ratio == 1.0  # A and B sound alike: no detour


def test_the_floor_is_the_spec_mae_floor() -> None:
    silent, quiet = np.zeros((1, 2, 2)), np.full((1, 2, 2), 1e-4)
    assert score_path([silent, quiet]).direct == 0.0


def test_bad_paths_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 2 positions"):
        score_path(magnitudes(0.0))
    with pytest.raises(ValueError, match="2 positions or more"):
        positions(1)
    with pytest.raises(ValueError, match="no morph paths"):
        summarise([])


def test_summaries_take_medians_and_pool_the_steps() -> None:
    scores = [PathScore(0.2, 2.0, 1.0, True, 1.0, (0.2, 0.2)), PathScore(0.4, 3.0, 0.5, True, 1.0, (0.4, 0.1)),
              PathScore(0.9, 5.0, 0.0, False, 1.0, (0.9, 0.1, 0.1, 0.1))]
    summary = summarise(scores)
    assert summary.paths == 3 and summary.largest_step == pytest.approx(0.4) and summary.path_ratio == pytest.approx(3.0)
    assert summary.toward == pytest.approx((2 + 1 + 0) / 8)
    assert summary.ends_exact == pytest.approx(2 / 3)
    assert set(summary.to_dict()) == {"paths", "largest_step", "path_ratio", "toward", "ends_exact"}


def test_end_exactness_looks_at_the_sound_not_the_name(brass_voices: list[Voice]) -> None:
    a, b = brass_voices[0], brass_voices[5]
    assert ends_exact([a.with_name("OTHER"), b], a, b)
    assert not ends_exact([a.replace({TRANSPOSE_INDEX: a[TRANSPOSE_INDEX] + 1}), b], a, b)
    assert not ends_exact([a, a], a, b)


def test_lines_and_pads_are_played_rendered_and_scored(brass_voices: list[Voice]) -> None:
    a, b, c, d = brass_voices[0], brass_voices[5], brass_voices[9], brass_voices[12]
    level = BY_NAME["op1_output_level"].index
    rendered: list[Voice] = []

    def magnitude(voice: Voice) -> np.ndarray:  # a stand-in render: the sound is op1's output level
        rendered.append(voice)
        return np.full((1, 2, 2), 10.0 ** (voice[level] / 99))

    score, kept = score_line(lambda x: blend(a, b, x), a, b, 5, magnitude)
    assert rendered == [blend(a, b, x) for x in (0, 0.25, 0.5, 0.75, 1)] and len(kept) == 5
    assert score.ends_exact and score.direct == pytest.approx(abs(a[level] - b[level]) / 99)
    scores = score_pad(lambda x, y: naive_pad([a, b, c, d], x, y), [a, b, c, d], 3, magnitude)
    assert set(scores) == set(PAD_LINES) and all(s.ends_exact and len(s.steps) == 2 for s in scores.values())
