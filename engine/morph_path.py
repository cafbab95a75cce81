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

The pad (:class:`PadPlan`) plans its four edges; inside, numerical parameters follow a Coons patch
of the edges (exact on every edge, bilinear between them) and discrete ones the nearest edge.
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


@dataclass(frozen=True)
class PadPlan:
    """A planned 4-corner pad: the planned edges A->B (top), C->D (bottom), A->C (left), B->D (right).

    Inside the pad each parameter follows the edges' schedules: how far it has moved along the top
    and bottom edges at ``x`` (blended by ``y``) gives its horizontal progress, how far along the left
    and right edges at ``y`` (blended by ``x``) its vertical progress, and its value is the bilinear
    blend of the four corners' values at those progresses (switched parameters from the corner the
    progresses round to). On each edge this is that edge's plan, exactly; a parameter that an edge
    moves late moves late inside the pad too, so parameters still move in groups, a few at a time.

    Attributes:
        top, bottom, left, right: the edges' plans (their waypoints hold the switched parameters at
            one end's value or the other's, as :func:`engine.morph_plan.plan_morph` makes them).
    """

    top: MorphPlan
    bottom: MorphPlan
    left: MorphPlan
    right: MorphPlan

    @property
    def corners(self) -> tuple[Voice, Voice, Voice, Voice]:
        """A B C D (top-left, top-right, bottom-left, bottom-right)."""
        return self.top.waypoints[0], self.top.waypoints[-1], self.bottom.waypoints[0], self.bottom.waypoints[-1]

    def voice_at(self, x: float, y: float) -> Voice:
        """The voice at pad position (x, y) (0, 0 = A; 1, 0 = B; 0, 1 = C; 1, 1 = D).

        Raises:
            ModelInputError: x or y outside 0..1.
        """
        x, y = _position(x, "x"), _position(y, "y")
        for edge, along, at in ((self.top, x, y == 0.0), (self.bottom, x, y == 1.0), (self.left, y, x == 0.0),
                                (self.right, y, x == 1.0)):
            if at:  # exactly the edge's plan (the blend below would round a few values the other way)
                return edge.voice_at(along)
        across = (1 - y) * _progress(self.top, x) + y * _progress(self.bottom, x)
        down = (1 - x) * _progress(self.left, y) + x * _progress(self.right, y)
        a, b, c, d = (np.asarray(v.values, dtype=np.float64) for v in self.corners)
        blended = (1 - down) * ((1 - across) * a + across * b) + down * ((1 - across) * c + across * d)
        rounded_across, rounded_down = across >= 0.5, down >= 0.5
        nearest = np.where(rounded_down, np.where(rounded_across, d, c), np.where(rounded_across, b, a))
        return _voice(np.where(_MASKS[PLAN_SWITCHED], nearest, blended))


def _progress(plan: MorphPlan, x: float) -> np.ndarray:
    """How far each parameter has moved from the plan's start to its end at ``x``, 0..1; where the ends
    agree, ``x`` itself (so that every parameter has fully crossed the pad at the far edge)."""
    start, end = plan._values[0], plan._values[-1]
    span = end - start
    moved = plan.values_at(x) - start
    return np.divide(moved, span, out=np.full_like(span, x), where=span != 0)
