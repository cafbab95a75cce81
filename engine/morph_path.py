"""What a morph plays at each position: naive parameter blends, planned paths, the planned pad.

A morph maps a position (``x`` from A to B, or ``x, y`` over the corners A B C D of a pad) to a
voice. Three methods (:data:`MORPH_METHODS`):

- ``planned``: a path planned once when the slots are filled (:mod:`engine.morph_plan`): a few
  waypoint voices chosen so that every step changes the sound a little and heads toward B; between
  two waypoints the numerical parameters are blended and the discrete ones switch halfway. Playing it
  is a table look-up and a blend, no model call.
- ``latent``: the straight line between the ends' latent points, decoded by the model
  (:mod:`engine.latent`); transpose and name come from the nearer end (:func:`with_template`).
- ``naive``: every numerical parameter (transpose included) interpolated, categorical ones switched
  halfway; the baseline a morph must beat.

The pad (:class:`PadPlan`) plans its four edges and a path from each corner to a centre voice, so
that its diagonals are planned too; inside, each parameter follows the plans around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from models.errors import ModelInputError
from models.params import NAME_LENGTH, NAME_START, TRANSPOSE_INDEX, VOICE_PARAMS, Kind
from models.voice import Voice

__all__ = ["DEFAULT_METHOD", "MORPH_METHODS", "NAIVE_SWITCHED", "PLAN_SWITCHED", "MorphPlan", "PadPlan", "blend",
           "naive_pad", "nearest_end", "with_template"]

MORPH_METHODS = ("planned", "latent", "naive")
"""Morph methods, best first (``dexbridge eval-morph`` measures them)."""
DEFAULT_METHOD = MORPH_METHODS[0]

_LO = np.array([p.lo for p in VOICE_PARAMS], dtype=np.float64)
_HI = np.array([p.hi for p in VOICE_PARAMS], dtype=np.float64)
_NAME = frozenset(range(NAME_START, NAME_START + NAME_LENGTH))
NAIVE_SWITCHED = frozenset(p.index for p in VOICE_PARAMS if p.kind is Kind.CATEGORICAL) | _NAME
"""What naive interpolation switches halfway instead of blending: the categorical parameters and the name."""
PLAN_SWITCHED = NAIVE_SWITCHED | {TRANSPOSE_INDEX}
"""What a planned path switches instead of blending: also transpose (a blended transpose glides
through every semitone between the two)."""


def _mask(indices: frozenset[int]) -> np.ndarray:
    mask = np.zeros(len(VOICE_PARAMS), dtype=bool)
    mask[sorted(indices)] = True
    return mask


_MASKS = {NAIVE_SWITCHED: _mask(NAIVE_SWITCHED), PLAN_SWITCHED: _mask(PLAN_SWITCHED)}


def _position(value: float, name: str) -> float:
    if not (np.isfinite(value) and 0.0 <= value <= 1.0):
        raise ModelInputError(f"morph position {name} = {value}: range 0..1")
    return float(value)


def _voice(values: np.ndarray) -> Voice:
    return Voice(tuple(int(v) for v in np.clip(np.rint(values), _LO, _HI)))


def blend(a: Voice, b: Voice, t: float, switched: frozenset[int] = NAIVE_SWITCHED) -> Voice:
    """The voice a fraction ``t`` of the way from ``a`` to ``b``: each parameter blended and rounded,
    those in ``switched`` taken from ``a`` below 0.5 and from ``b`` from 0.5 on.

    Raises:
        ModelInputError: ``t`` outside 0..1.
    """
    t = _position(t, "t")
    if t == 0.0:
        return a
    if t == 1.0:
        return b
    start, end = np.asarray(a.values, dtype=np.float64), np.asarray(b.values, dtype=np.float64)
    values = start + t * (end - start)
    mask = _MASKS.get(switched)
    values = np.where(_mask(switched) if mask is None else mask, end if t >= 0.5 else start, values)
    return _voice(values)


def nearest_end(ends: Sequence[Voice], x: float, y: float | None = None) -> Voice:
    """The end (1-D: A, B) or corner (pad: A B C D) nearest a morph position."""
    if y is None:
        return ends[int(x >= 0.5)]
    return ends[int(x >= 0.5) + 2 * int(y >= 0.5)]


def with_template(voice: Voice, template: Voice) -> Voice:
    """``voice`` with the parameters the model does not learn (transpose, name) taken from ``template``."""
    return voice.replace({i: template[i] for i in (TRANSPOSE_INDEX, *sorted(_NAME)) if voice[i] != template[i]})


def naive_pad(corners: Sequence[Voice], x: float, y: float) -> Voice:
    """Naive interpolation over a pad: numerical parameters bilinear in the four corners (A B C D =
    top-left, top-right, bottom-left, bottom-right), the rest from the nearest corner."""
    x, y = _position(x, "x"), _position(y, "y")
    values = np.array([corner.values for corner in corners], dtype=np.float64)
    mixed = (1 - y) * ((1 - x) * values[0] + x * values[1]) + y * ((1 - x) * values[2] + x * values[3])
    nearest = np.asarray(nearest_end(corners, x, y).values, dtype=np.float64)
    return _voice(np.where(_MASKS[NAIVE_SWITCHED], nearest, mixed))


@dataclass(frozen=True)
class MorphPlan:
    """A planned morph: waypoint voices at evenly spaced positions, first = A, last = B.

    Attributes:
        waypoints: at least two voices; waypoint k sits at position ``k / (len - 1)``.
    """

    waypoints: tuple[Voice, ...]
    _values: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.waypoints) < 2:
            raise ModelInputError(f"a morph plan needs at least 2 waypoints (A and B), got {len(self.waypoints)}")
        object.__setattr__(self, "_values", np.array([w.values for w in self.waypoints], dtype=np.float64))

    @property
    def steps(self) -> int:
        """Steps between waypoints."""
        return len(self.waypoints) - 1

    def values_at(self, x: float) -> np.ndarray:
        """The (unrounded) parameter values at position ``x``; see :meth:`voice_at`."""
        segment, fraction = self._segment(_position(x, "x"))
        start, end = self._values[segment], self._values[segment + 1]
        if fraction == 0.0:
            return start
        return np.where(_MASKS[PLAN_SWITCHED], end if fraction >= 0.5 else start, start + fraction * (end - start))

    def voice_at(self, x: float) -> Voice:
        """The voice at position ``x`` (0 = A, 1 = B): a waypoint, or a blend of the two around ``x``.

        Raises:
            ModelInputError: ``x`` outside 0..1.
        """
        segment, fraction = self._segment(_position(x, "x"))
        if fraction in (0.0, 1.0):
            return self.waypoints[segment + int(fraction)]
        return _voice(self.values_at(x))

    def _segment(self, x: float) -> tuple[int, float]:
        segment = min(int(x * self.steps), self.steps - 1)
        return segment, x * self.steps - segment


Spokes = tuple[MorphPlan, MorphPlan, MorphPlan, MorphPlan]
"""A pad's planned paths from each corner (A B C D) to its centre voice."""


@dataclass(frozen=True)
class PadPlan:
    """A planned 4-corner pad: the planned edges A->B (top), C->D (bottom), A->C (left), B->D (right),
    and the spokes from each corner to the centre voice M (:func:`engine.morph_plan.plan_centre`).

    The edges and spokes cut the pad into four triangles, each an edge and the two spokes from its
    ends: on an edge the pad plays that edge's plan, on a diagonal the two spokes it joins (A -> M ->
    D, B -> M -> C), exactly. Inside a triangle each parameter follows the plans around it: how far
    the edge has moved it at the point's position along the edge gives its progress along the edge,
    how far the two spokes have moved it at the point's depth toward M (blended by the position
    along) its progress toward M, and its value is the blend of the triangle's three voices at those
    progresses (switched parameters from the voice the progresses round to). A parameter that the
    plans move late moves late inside the pad too, so parameters still move in groups, a few at a time.

    Attributes:
        top, bottom, left, right: the edges' plans (their waypoints hold the switched parameters at
            one end's value or the other's, as :func:`engine.morph_plan.plan_morph` makes them).
        spokes: the plans A -> M, B -> M, C -> M, D -> M.
    """

    top: MorphPlan
    bottom: MorphPlan
    left: MorphPlan
    right: MorphPlan
    spokes: Spokes

    def __post_init__(self) -> None:
        ends = {spoke.waypoints[-1].values for spoke in self.spokes}
        starts = tuple(spoke.waypoints[0] for spoke in self.spokes)
        if len(ends) != 1 or starts != self.corners:
            raise ModelInputError("a pad's spokes run from its corners A B C D to one centre voice")

    @property
    def corners(self) -> tuple[Voice, Voice, Voice, Voice]:
        """A B C D (top-left, top-right, bottom-left, bottom-right)."""
        return self.top.waypoints[0], self.top.waypoints[-1], self.bottom.waypoints[0], self.bottom.waypoints[-1]

    @property
    def centre(self) -> Voice:
        """The voice at (0.5, 0.5)."""
        return self.spokes[0].waypoints[-1]

    def voice_at(self, x: float, y: float) -> Voice:
        """The voice at pad position (x, y) (0, 0 = A; 1, 0 = B; 0, 1 = C; 1, 1 = D).

        Raises:
            ModelInputError: x or y outside 0..1.
        """
        x, y = _position(x, "x"), _position(y, "y")
        # the triangle (edge, the spokes from its start and end) whose edge is nearest, with the point's
        # position along that edge and its depth toward the centre (0 on the edge, 0.5 at the centre)
        a_spoke, b_spoke, c_spoke, d_spoke = self.spokes
        edge, first, second, along, depth = min(
            ((self.top, a_spoke, b_spoke, x, y), (self.bottom, c_spoke, d_spoke, x, 1.0 - y),
             (self.left, a_spoke, c_spoke, y, x), (self.right, b_spoke, d_spoke, y, 1.0 - x)),
            key=lambda triangle: triangle[4])
        if depth == 0.0:
            return edge.voice_at(along)
        if depth >= 0.5:
            return self.centre
        toward = 2.0 * depth  # 0 on the edge, 1 at the centre
        if along <= depth:  # on the spoke from the edge's start (the triangle's other side for the start)
            return first.voice_at(toward)
        if along >= 1.0 - depth:
            return second.voice_at(toward)
        across = (along - depth) / (1.0 - 2.0 * depth)  # 0 on the first spoke, 1 on the second
        along_edge = (1.0 - toward) * _progress(edge, across) + toward * across
        inward = (1.0 - across) * _progress(first, toward) + across * _progress(second, toward)
        start, end, centre = (np.asarray(v.values, dtype=np.float64)
                              for v in (edge.waypoints[0], edge.waypoints[-1], self.centre))
        blended = (1.0 - inward) * ((1.0 - along_edge) * start + along_edge * end) + inward * centre
        nearest = np.where(inward >= 0.5, centre, np.where(along_edge >= 0.5, end, start))
        return _voice(np.where(_MASKS[PLAN_SWITCHED], nearest, blended))


def _progress(plan: MorphPlan, x: float) -> np.ndarray:
    """How far each parameter has moved from the plan's start to its end at ``x``, 0..1; where the ends
    agree, ``x`` itself (so that every parameter has fully crossed the pad at the far edge)."""
    start, end = plan._values[0], plan._values[-1]
    span = end - start
    moved = plan.values_at(x) - start
    return np.divide(moved, span, out=np.full_like(span, x), where=span != 0)
