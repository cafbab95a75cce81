"""The morph planner: paths whose best shape is known, a categorical switch, the pad, and a real pair
measured as ``dexbridge eval-morph`` measures it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform

from engine.eval.morph import score_line
from engine.morph_path import MorphPlan, blend, naive_pad
from engine.morph_plan import (
    CENTRE_APART,
    GROUPS,
    SPOKE_STEP_SLACK,
    Sketch,
    _differing,
    _distances,
    _distances_to,
    _distinct_first,
    _order,
    _select,
    _Sketches,
    distance,
    plan_centre,
    plan_morph,
    plan_pad,
)
from models.errors import ModelInputError
from models.metrics import log_magnitude, stft_magnitude
from models.params import BY_NAME, LEARNABLE, TRANSPOSE_INDEX
from models.render import Renderer
from models.voice import Voice

SHORT = Sketch(0.5, 0.75)  # quick renders: these tests check shapes, not fine rankings


def index(name: str) -> int:
    return BY_NAME[name].index


def test_groups_cover_every_learnable_parameter_and_transpose_once() -> None:
    covered = [i for _, indices in GROUPS for i in indices]
    assert sorted(covered) == sorted([p.index for p in LEARNABLE] + [TRANSPOSE_INDEX])


def test_one_numerical_parameter_apart_the_plan_moves_it_monotonically(brass_voices: list[Voice]) -> None:
    level = index("op1_output_level")
    a = brass_voices[0]
    b = a.replace({level: a[level] - 60})
    plan = plan_morph(a, b, sketch=SHORT, order_sketch=SHORT)
    assert plan.waypoints[0] == a and plan.waypoints[-1] == b and plan.steps == 8
    values = [w[level] for w in plan.waypoints]
    assert values == sorted(values, reverse=True) and len(set(values)) == 9, values
    assert all(w.diff(a).keys() <= {level} for w in plan.waypoints[:4])
    fine = [plan.voice_at(x)[level] for x in np.linspace(0, 1, 33)]
    assert fine == sorted(fine, reverse=True)


def test_a_switch_lands_where_it_is_not_heard() -> None:
    """OP3 (a carrier in algorithm 1) fades out and changes to fixed frequency: a plan switches the
    mode once OP3 is silent, where naive interpolation switches it halfway, at half level."""
    level, mode, coarse = index("op3_output_level"), index("op3_osc_mode"), index("op3_coarse")
    a = Voice.init().replace({level: 99, coarse: 2})
    b = a.replace({level: 0, mode: 1})
    plan = plan_morph(a, b, sketch=SHORT, order_sketch=SHORT)
    assert plan.waypoints[0] == a and plan.waypoints[-1] == b
    assert all(w[level] == 0 for w in plan.waypoints if w[mode] == 1), [(w[level], w[mode]) for w in plan.waypoints]
    assert [w[level] for w in plan.waypoints] == sorted((w[level] for w in plan.waypoints), reverse=True)
    halfway = blend(a, b, 0.5)
    assert halfway[mode] == 1 and halfway[level] == 50  # naive: the switch at half level


def test_groups_heard_on_neither_side_switch_with_the_first_heard_group(brass_voices: list[Voice]) -> None:
    """Key sync (a render starts every note afresh) and an LFO's speed while it has no depth change no render: they
    move with the first group that is heard, so no chain state sounds like the one before it."""
    level, sync, speed = index("op2_output_level"), index("osc_key_sync"), index("lfo_speed")
    a = brass_voices[0].replace({index("lfo_pm_depth"): 0, index("lfo_am_depth"): 0})
    b = a.replace({level: a[level] - 40, sync: 1 - a[sync], speed: (a[speed] + 30) % 100})
    sketches = _Sketches(SHORT, None, 1)
    assert _order(a, b, _differing(a, b), sketches) == [(level, sync, speed)]
    heard = b.replace({index("lfo_pm_depth"): 60})  # with depth, the LFO group is heard: a group of its own
    assert len(_order(a, heard, _differing(a, heard), sketches)) == 2
    plan = plan_morph(a, b, sketch=SHORT, order_sketch=SHORT)
    assert all(w[level] != a[level] for w in plan.waypoints[1:] if w[sync] != a[sync])


def test_a_plan_is_the_same_on_one_thread_and_on_two(brass_voices: list[Voice]) -> None:
    """On two threads a step's half-way blends are rendered with the next step's, ahead of need: the plan is the
    one a single thread lays."""
    a, b = brass_voices[0], brass_voices[6]
    one = plan_morph(a, b, sketch=SHORT, order_sketch=SHORT, workers=1)
    assert plan_morph(a, b, sketch=SHORT, order_sketch=SHORT, workers=2) == one
    assert len(one.waypoints) == 9


def test_a_centre_is_the_same_on_one_thread_and_on_two(brass_voices: list[Voice]) -> None:
    """On two threads the second diagonal's candidate centres are planned beside the first's: the same spokes."""
    corners = [brass_voices[i] for i in (0, 6, 12, 20)]
    one = plan_centre(corners, sketch=SHORT, order_sketch=SHORT, workers=1)
    assert plan_centre(corners, sketch=SHORT, order_sketch=SHORT, workers=2) == one
    assert len({spoke.waypoints[-1] for spoke in one}) == 1  # four spokes to one centre


def test_names_switch_halfway_and_alike_voices_make_a_one_step_plan(brass_voices: list[Voice]) -> None:
    a = brass_voices[0]
    b = a.replace({index("op2_eg_rate1"): (a[index("op2_eg_rate1")] + 50) % 100}).with_name("OTHER")
    plan = plan_morph(a, b, steps=4, sketch=SHORT, order_sketch=SHORT)
    assert [w.name for w in plan.waypoints] == [a.name] * 2 + [b.name] * (len(plan.waypoints) - 2)
    same = plan_morph(a, a.with_name("COPY"), sketch=SHORT)
    assert same.waypoints == (a, a.with_name("COPY"))
    with pytest.raises(ModelInputError, match="at least 1 step, got 0"):
        plan_morph(a, b, steps=0, sketch=SHORT)


def test_a_spoke_takes_a_somewhat_larger_step_to_head_toward_the_far_corner() -> None:
    """Five chain states (two-number sketches, distance = mean absolute difference), two steps to pick: the least
    largest step (0.85, via state 2) first brings the sound no closer to the far corner; a spoke goes via state 3
    instead (1.05: within the slack), every step closer to the far corner and farther from its own; a line keeps
    the least largest step."""
    states = [np.array(v, np.float32) for v in [(2.0, 0.3), (3.5, 2.7), (1.3, 0.7), (2.1, 0.7), (1.5, 2.2)]]
    far = np.array([8.0, 8.0], np.float32)
    assert _select(states, 2) == [0, 2, 4]
    spoke = _select(states, 2, far)
    assert spoke == [0, 3, 4]

    def distance(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.mean(np.abs(a - b)))

    steps = list(itertools.pairwise(spoke))
    for i, j in steps:
        assert distance(states[j], far) < distance(states[i], far)
        assert distance(states[j], states[0]) > distance(states[i], states[0])
    assert max(distance(states[i], states[j]) for i, j in steps) <= (1 + SPOKE_STEP_SLACK) * 0.85


def test_the_distances_between_chain_states_are_mean_absolute_differences() -> None:
    """The compiled loop that measures every two states of a chain agrees with SciPy's ``pdist`` to rounding."""
    states = np.random.default_rng(1).normal(-3.0, 2.0, (7, 1000)).astype(np.float32)
    expected = squareform(pdist(states, "cityblock")) / states.shape[1]
    np.testing.assert_allclose(_distances(states), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_distances_to(states, states[4]), expected[4], rtol=1e-12, atol=1e-12)
    assert distance(states[1], states[2]) == pytest.approx(expected[1, 2], rel=1e-12)


def test_a_sketch_is_the_measures_log_magnitude_on_every_fourth_frame(brass_voices: list[Voice]) -> None:
    """A plan's sketch (SciPy's FFT and the natural log, for speed) is what eval-morph measures, every fourth frame."""
    voice = brass_voices[6]
    measured = log_magnitude(stft_magnitude(Renderer().render(voice, 60, 85)))[0].T  # (frames, bins)
    sketch = Sketch()(voice)
    assert sketch.dtype == np.float32 and sketch.shape == measured[::4].shape
    assert distance(sketch, measured[::4]) < 1e-4  # rounding only (one unit of a parameter costs 0.1 or more)


def test_a_planned_pad_plans_its_four_edges_and_its_centre(brass_voices: list[Voice]) -> None:
    a = brass_voices[0]
    rates = [index(f"op{op}_eg_rate2") for op in range(1, 4)]
    b, c = a.replace({rates[0]: 10}), a.replace({rates[1]: 10, index("feedback"): 0})
    d = b.replace({rates[2]: 10, index("lfo_wave"): (a[index("lfo_wave")] + 1) % 6})
    pad = plan_pad([a, b, c, d], sketch=SHORT, order_sketch=SHORT)
    assert pad.corners == (a, b, c, d)
    for plan, (start, end) in zip((pad.top, pad.bottom, pad.left, pad.right), ((a, b), (c, d), (a, c), (b, d)), strict=True):
        assert plan.waypoints[0] == start and plan.waypoints[-1] == end
    assert pad.voice_at(0.5, 0.0) == pad.top.voice_at(0.5) and pad.voice_at(1.0, 0.25) == pad.right.voice_at(0.25)
    for spoke, corner in zip(pad.spokes, (a, b, c, d), strict=True):
        assert spoke.waypoints[0] == corner and spoke.waypoints[-1] == pad.centre and spoke.steps <= 4
    assert pad.spokes == plan_centre([a, b, c, d], sketch=SHORT, order_sketch=SHORT)
    centre = pad.voice_at(0.5, 0.5)
    assert centre == pad.centre
    assert 0 <= centre[index("feedback")] <= a[index("feedback")]
    assert centre[index("lfo_wave")] in {a[index("lfo_wave")], d[index("lfo_wave")]}
    with pytest.raises(ModelInputError, match="a pad has 4 corners"):
        plan_pad([a, b, c], sketch=SHORT)
    with pytest.raises(ModelInputError, match="a pad has 4 corners"):
        plan_centre([a, b, c, d, a], sketch=SHORT)


def test_the_centre_kept_is_the_tried_state_whose_diagonals_head_toward_their_end(brass_voices: list[Voice]) -> None:
    """Of the chains' states tried as the centre, the one kept has, on the sketches, the fewest diagonal steps not
    heading toward their end, then the smallest largest step: never worse than fewer states tried."""
    corners = [brass_voices[i] for i in (0, 6, 9, 12)]

    def diagonals(spokes: tuple[MorphPlan, ...]) -> tuple[int, float]:
        misses, largest = 0, 0.0
        for first, second in ((spokes[0], spokes[3]), (spokes[1], spokes[2])):
            heard = [SHORT(voice) for voice in (*first.waypoints, *second.waypoints[-2::-1])]
            to_end = [distance(state, heard[-1]) for state in heard]
            misses += sum(not later < earlier for earlier, later in itertools.pairwise(to_end))
            largest = max(largest, *(distance(x, y) for x, y in itertools.pairwise(heard)))
        return misses, largest

    tried = {n: diagonals(plan_centre(corners, sketch=SHORT, order_sketch=SHORT, centres=n)) for n in (1, 2, 3)}
    assert tried[3] <= tried[2] <= tried[1], tried
    assert tried[3] < tried[1], "a state other than the least lopsided of each chain heads better toward the ends here"
    with pytest.raises(ModelInputError, match="at least 1 state"):
        plan_centre(corners, sketch=SHORT, centres=0)


def test_the_states_tried_as_the_centre_are_distinct_sounds() -> None:
    """A state that sounds like one tried before it (a near-silent group apart) is passed over for the next distinct
    one."""
    sounds = np.zeros((5, 4, 3), np.float32)
    sounds[1] += CENTRE_APART / 2  # too near the first
    sounds[2] += 2 * CENTRE_APART
    sounds[3] += 2 * CENTRE_APART + CENTRE_APART / 2  # too near the third
    sounds[4] -= 2 * CENTRE_APART
    assert _distinct_first(list(sounds), 3) == [0, 2, 4]
    assert _distinct_first(list(sounds), 2) == [0, 2]
    assert _distinct_first(list(sounds[:2]), 3) == [0]


def test_a_planned_morph_between_two_brass_voices_is_smoother_than_naive(brass_voices: list[Voice]) -> None:
    """BRASS 1 -> PERCBRASS (the demo's morph), rendered and scored as eval-morph does."""
    a, b = brass_voices[0], brass_voices[6]
    renderer = Renderer()

    def magnitude(voice: Voice) -> np.ndarray:
        return stft_magnitude(renderer.render(voice, 60, 85))

    planned, _ = score_line(plan_morph(a, b).voice_at, a, b, 9, magnitude)
    naive, _ = score_line(lambda x: blend(a, b, x), a, b, 9, magnitude)
    assert planned.ends_exact and naive.ends_exact
    assert planned.largest_step <= 0.75 * naive.largest_step, (planned.largest_step, naive.largest_step)
    assert planned.path_ratio <= 0.75 * naive.path_ratio, (planned.path_ratio, naive.path_ratio)
    assert planned.toward >= 7 / 8


def test_a_planned_pad_diagonal_between_brass_voices_is_smoother_than_naive(brass_voices: list[Voice]) -> None:
    """Four brass voices' pad, both diagonals rendered and scored as eval-morph does."""
    corners = [brass_voices[i] for i in (0, 6, 9, 12)]
    renderer = Renderer()

    def magnitude(voice: Voice) -> np.ndarray:
        return stft_magnitude(renderer.render(voice, 60, 85))

    pad = plan_pad(corners)
    for at, start, end in ((lambda t: (t, t), 0, 3), (lambda t: (1 - t, t), 1, 2)):
        a, b = corners[start], corners[end]
        planned, _ = score_line(lambda t, at=at: pad.voice_at(*at(t)), a, b, 9, magnitude)
        naive, _ = score_line(lambda t, at=at: naive_pad(corners, *at(t)), a, b, 9, magnitude)
        assert planned.ends_exact and planned.largest_step <= 0.75 * naive.largest_step, (planned, naive)
        assert planned.path_ratio <= naive.path_ratio, (planned, naive)
