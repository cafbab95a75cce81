"""What a morph plays: naive blends, planned waypoints and what lies between them, the planned pad."""

from __future__ import annotations

import numpy as np
import pytest

from engine.morph_path import (
    NAIVE_SWITCHED,
    PLAN_SWITCHED,
    MorphPlan,
    PadPlan,
    blend,
    naive_pad,
    nearest_end,
    with_template,
)
from models.errors import ModelInputError
from models.params import BY_NAME, NAME_START, TRANSPOSE_INDEX
from models.voice import Voice

LEVEL = BY_NAME["op1_output_level"].index
ALGORITHM = BY_NAME["algorithm"].index


@pytest.fixture
def ends(brass_voices: list[Voice]) -> tuple[Voice, Voice]:
    a, b = brass_voices[0], brass_voices[6]
    assert a[ALGORITHM] != b[ALGORITHM] and a[TRANSPOSE_INDEX] == b[TRANSPOSE_INDEX]
    return a, b.replace({TRANSPOSE_INDEX: 12})


def test_blend_ends_on_the_voices_and_switches_categoricals_halfway(ends: tuple[Voice, Voice]) -> None:
    a, b = ends
    assert blend(a, b, 0.0) is a and blend(a, b, 1.0) is b
    before, after = blend(a, b, 0.49), blend(a, b, 0.5)
    assert before[ALGORITHM] == a[ALGORITHM] and after[ALGORITHM] == b[ALGORITHM]
    assert before.name == a.name and after.name == b.name
    assert min(a[LEVEL], b[LEVEL]) <= before[LEVEL] <= max(a[LEVEL], b[LEVEL])
    assert after[TRANSPOSE_INDEX] == 18  # naive blends transpose (24 -> 12) ...
    assert blend(a, b, 0.5, PLAN_SWITCHED)[TRANSPOSE_INDEX] == 12  # ... a plan switches it
    assert NAIVE_SWITCHED < PLAN_SWITCHED
    with pytest.raises(ModelInputError, match="morph position t = 1.5: range 0..1"):
        blend(a, b, 1.5)


def test_a_plan_plays_its_waypoints_and_blends_between_them(ends: tuple[Voice, Voice]) -> None:
    a, b = ends
    middle = a.replace({LEVEL: 50, ALGORITHM: b[ALGORITHM]})
    plan = MorphPlan((a, middle, b))
    assert plan.steps == 2
    assert [plan.voice_at(x) for x in (0.0, 0.5, 1.0)] == [a, middle, b]
    quarter = plan.voice_at(0.25)
    assert quarter[LEVEL] == round((a[LEVEL] + 50) / 2) and quarter[ALGORITHM] == b[ALGORITHM]
    assert plan.voice_at(0.2)[ALGORITHM] == a[ALGORITHM]
    assert plan.voice_at(0.9)[TRANSPOSE_INDEX] == 12 and plan.voice_at(0.7)[TRANSPOSE_INDEX] == 24
    with pytest.raises(ModelInputError, match="at least 2 waypoints"):
        MorphPlan((a,))
    with pytest.raises(ModelInputError, match="x = -0.1: range 0..1"):
        plan.voice_at(-0.1)


def test_templates_give_the_nearer_end_its_transpose_and_name(ends: tuple[Voice, Voice]) -> None:
    a, b = ends
    corners = [a, b, a.with_name("C"), b.with_name("D")]
    assert nearest_end((a, b), 0.49) is a and nearest_end((a, b), 0.5) is b
    assert [nearest_end(corners, x, y).name.strip() for x, y in ((0.2, 0.2), (0.7, 0.1), (0.1, 0.9), (0.5, 0.5))] == [
        a.name.strip(), b.name.strip(), "C", "D"]
    decoded = Voice.init("DEXBRIDGE")
    templated = with_template(decoded, b)
    assert templated[TRANSPOSE_INDEX] == 12 and templated.name == b.name
    assert templated.values[:TRANSPOSE_INDEX] == decoded.values[:TRANSPOSE_INDEX]


def test_the_naive_pad_is_bilinear_with_switches_from_the_nearest_corner(brass_voices: list[Voice]) -> None:
    corners = [brass_voices[i] for i in (0, 6, 9, 12)]
    for (x, y), corner in zip(((0, 0), (1, 0), (0, 1), (1, 1)), corners, strict=True):
        assert naive_pad(corners, x, y) == corner
    centre = naive_pad(corners, 0.5, 0.5)
    assert abs(centre[LEVEL] - np.mean([c[LEVEL] for c in corners])) <= 0.5
    assert centre[ALGORITHM] == corners[3][ALGORITHM] and centre.values[NAME_START:] == corners[3].values[NAME_START:]


def test_a_planned_pad_is_its_edges_and_spokes_on_them_and_blends_inside(brass_voices: list[Voice]) -> None:
    a, b, c, d = (brass_voices[i] for i in (0, 6, 9, 12))
    top, bottom = MorphPlan((a, blend(a, b, 0.5, PLAN_SWITCHED), b)), MorphPlan((c, d))
    left, right = MorphPlan((a, blend(a, c, 0.3, PLAN_SWITCHED), c)), MorphPlan((b, blend(b, d, 0.8, PLAN_SWITCHED), d))
    middle = blend(a, d, 0.5, PLAN_SWITCHED)
    spokes = (MorphPlan((a, blend(a, middle, 0.4, PLAN_SWITCHED), middle)), MorphPlan((b, middle)),
              MorphPlan((c, blend(c, middle, 0.7, PLAN_SWITCHED), middle)), MorphPlan((d, middle)))
    pad = PadPlan(top, bottom, left, right, spokes)
    assert pad.corners == (a, b, c, d) and pad.centre == middle == pad.voice_at(0.5, 0.5)
    for t in np.linspace(0, 1, 11):
        assert pad.voice_at(t, 0.0) == top.voice_at(t) and pad.voice_at(t, 1.0) == bottom.voice_at(t)
        assert pad.voice_at(0.0, t) == left.voice_at(t) and pad.voice_at(1.0, t) == right.voice_at(t)
    for t in np.linspace(0, 0.5, 6):  # the diagonals: corner -> centre along each spoke
        assert pad.voice_at(t, t) == spokes[0].voice_at(2 * t) and pad.voice_at(1 - t, t) == spokes[1].voice_at(2 * t)
        assert pad.voice_at(t, 1 - t) == spokes[2].voice_at(2 * t) and pad.voice_at(1 - t, 1 - t) == spokes[3].voice_at(2 * t)
    lows = np.min([v.values for v in (a, b, c, d, middle)], axis=0)
    highs = np.max([v.values for v in (a, b, c, d, middle)], axis=0)
    for x, y in ((0.4, 0.6), (0.2, 0.1), (0.55, 0.3), (0.9, 0.5)):
        inside = pad.voice_at(x, y)
        assert np.all((lows <= inside.values) & (inside.values <= highs))
    near = [pad.voice_at(0.3, 0.3 - e) for e in (1e-6, 0.0)] + [pad.voice_at(0.3 - 1e-6, 0.3)]
    assert max(np.abs(np.subtract(v.values, near[1].values)).max() for v in near) <= 1  # no seam at a diagonal
    with pytest.raises(ModelInputError, match="y = 2.0: range 0..1"):
        pad.voice_at(0.5, 2.0)
    with pytest.raises(ModelInputError, match="spokes run from its corners"):
        PadPlan(top, bottom, left, right, (spokes[0], spokes[1], spokes[2], MorphPlan((d, a))))


