"""The learnable representations of a DX7 voice: "num", "numcat" and "numcat++".

Each maps the 144 learnable parameters (:data:`models.params.LEARNABLE`, VCED order) to a float
vector and back, after Le Vaillant et al., DAFx 2021, section 3:

- ``num`` (144): one value per parameter, categorical ones included, scaled to [0, 1].
- ``numcat`` (224): numerical parameters scaled, the 22 categorical ones one-hot.
- ``numcat++`` (610): also one-hot every numerical parameter with at most 32 steps.

Slots follow VCED order: a parameter takes one scalar slot or a contiguous one-hot block.
Decoding never fails on values: scalars are clipped to [0, 1] and rounded to the nearest step
(ties to even), one-hot blocks take their argmax (first of equal maxima). NaN is read as -inf:
a NaN scalar decodes to the parameter's lowest value, a NaN score never wins an argmax, and a
block of only NaN / -inf picks its first class (the lowest value). Parameters that are not
learned (transpose, name) come from a template voice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike

from models.compiled import compiled
from models.errors import RepresentationError
from models.params import LEARNABLE, VOICE_PARAMS, VOICE_SIZE, Kind, ParamSpec
from models.voice import Voice

ONE_HOT_MAX_STEPS = 32  # numcat++ one-hot encodes numerical parameters with at most this many steps
DEFAULT_NAME = "DEXBRIDGE"
DEFAULT_TEMPLATE = Voice.init(DEFAULT_NAME)
"""Where decoding takes the parameters that are not learned: transpose 24 (no shift), the name."""

LEARNABLE_INDICES: np.ndarray = np.array([p.index for p in LEARNABLE], dtype=np.intp)
"""VCED index of each of the 144 learnable parameters; slot i of a "num" vector is parameter i."""
NUMERICAL_MASK: np.ndarray = np.array([p.kind is Kind.NUMERICAL for p in LEARNABLE])
"""Over the 144 learnable parameters: True for the 122 numerical, False for the 22 categorical."""
LEARNABLE_INDICES.setflags(write=False)
NUMERICAL_MASK.setflags(write=False)

_LO = np.array([p.lo for p in VOICE_PARAMS], dtype=np.int64)
_SPAN = np.array([p.hi - p.lo for p in VOICE_PARAMS], dtype=np.int64)
_FIXED = tuple(sorted(set(range(VOICE_SIZE)) - set(LEARNABLE_INDICES.tolist())))  # from the template: transpose, name


@dataclass(frozen=True)
class OneHotGroup:
    """One parameter encoded as a one-hot block.

    Attributes:
        index: VCED index of the parameter.
        start: first slot of the block in the vector.
        classes: number of slots (the parameter's steps); slot ``start + k`` means ``lo + k``.
        categorical: True when the synth treats the parameter as categorical, False for a
            numerical parameter one-hot encoded by "numcat++".
    """

    index: int
    start: int
    classes: int
    categorical: bool

    @property
    def stop(self) -> int:
        """One past the last slot of the block."""
        return self.start + self.classes

    @property
    def slots(self) -> slice:
        """The block as a slice of the vector."""
        return slice(self.start, self.stop)

    @property
    def spec(self) -> ParamSpec:
        """The parameter's table entry."""
        return VOICE_PARAMS[self.index]


@dataclass(frozen=True)
class _DecodePlan:
    """Where decoding reads and writes, as index arrays: every scalar slot, then every one-hot block's argmax
    over a padded (blocks, widest block) table of slots, whose padding (slot ``size``) is skipped."""

    scalar_params: np.ndarray
    scalar_slots: np.ndarray
    scalar_lo: np.ndarray
    scalar_span: np.ndarray
    group_params: np.ndarray
    group_lo: np.ndarray
    table: np.ndarray

    @classmethod
    def of(cls, size: int, numerical_params: tuple[int, ...], numerical_slots: np.ndarray,
           groups: tuple[OneHotGroup, ...]) -> _DecodePlan:
        """The plan of a representation's layout (``size`` slots)."""
        scalar = np.array(numerical_params, dtype=np.intp)
        widest = max((g.classes for g in groups), default=0)
        table = np.full((len(groups), widest), size, dtype=np.intp)  # slot ``size``: padding, skipped
        for row, group in enumerate(groups):
            table[row, : group.classes] = np.arange(group.start, group.stop)
        group_params = np.array([g.index for g in groups], dtype=np.intp)
        return cls(scalar, np.array(numerical_slots, dtype=np.intp), _LO[scalar].astype(np.float64),
                   _SPAN[scalar].astype(np.float64), group_params, _LO[group_params], table)

    def write(self, scores: np.ndarray, values: np.ndarray) -> None:
        """Decode the learnable parameters of (N, size) ``scores`` into (N, 155) ``values`` in place."""
        _write(scores, values, self.scalar_params, self.scalar_slots, self.scalar_lo, self.scalar_span,
               self.group_params, self.group_lo, self.table)


@compiled
def _write(scores: np.ndarray, values: np.ndarray, scalar_params: np.ndarray, scalar_slots: np.ndarray,
           scalar_lo: np.ndarray, scalar_span: np.ndarray, group_params: np.ndarray, group_lo: np.ndarray,
           table: np.ndarray) -> None:  # pragma: no cover - compiled
    """:meth:`_DecodePlan.write` in one compiled loop (a control message decodes one row after a pause, when
    a dozen NumPy calls cost more than the work): ``not s > best`` reads NaN as -inf, as the module says."""
    size = scores.shape[1]
    for row in range(scores.shape[0]):
        for k in range(scalar_params.shape[0]):
            unit = np.float64(scores[row, scalar_slots[k]])
            if not unit > 0.0:
                unit = 0.0
            elif unit > 1.0:
                unit = 1.0
            values[row, scalar_params[k]] = np.int64(np.rint(unit * scalar_span[k]) + scalar_lo[k])
        for block in range(table.shape[0]):
            best, first = -np.inf, 0
            for k in range(table.shape[1]):
                slot = table[block, k]
                if slot < size and np.float64(scores[row, slot]) > best:
                    best, first = np.float64(scores[row, slot]), k
            values[row, group_params[block]] = first + group_lo[block]


@dataclass(frozen=True, eq=False)
class Representation:
    """A learnable representation: layout metadata plus vectorised encode / decode.

    Attributes:
        name: "num", "numcat" or "numcat++".
        size: vector length.
        numerical_params: VCED indices of the parameters held as one scaled value each (in
            "num" the categorical parameters too), ascending.
        numerical_slots: vector position of each of ``numerical_params`` (read-only int array);
            the training loss regresses these.
        groups: the one-hot blocks, in vector order; the loss classifies these.
    """

    name: str
    size: int
    numerical_params: tuple[int, ...]
    numerical_slots: np.ndarray = field(repr=False)
    groups: tuple[OneHotGroup, ...]

    @cached_property
    def _scalar_index(self) -> np.ndarray:
        return np.array(self.numerical_params, dtype=np.intp)

    @cached_property
    def _groups_by_size(self) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        """Per distinct block size: (VCED indices (G,), slot matrix (G, classes)) (for encoding)."""
        plans: list[tuple[np.ndarray, np.ndarray]] = []
        for classes in sorted({g.classes for g in self.groups}):
            same = [g for g in self.groups if g.classes == classes]
            index = np.array([g.index for g in same], dtype=np.intp)
            slots = np.array([g.start for g in same], dtype=np.intp)[:, None] + np.arange(classes)
            plans.append((index, slots))
        return tuple(plans)

    @cached_property
    def _decode_plan(self) -> _DecodePlan:
        return _DecodePlan.of(self.size, self.numerical_params, self.numerical_slots, self.groups)

    def encode(self, voice: Voice) -> np.ndarray:
        """The float32 vector (``size``,) of a voice."""
        return self.encode_batch([voice])[0]

    def encode_batch(self, voices: Sequence[Voice]) -> np.ndarray:
        """The float32 matrix (N, ``size``) of N voices."""
        values = np.array([v.values for v in voices], dtype=np.int64).reshape(len(voices), VOICE_SIZE)
        out = np.zeros((len(voices), self.size), dtype=np.float32)
        scalar = self._scalar_index
        out[:, self.numerical_slots] = (values[:, scalar] - _LO[scalar]) / _SPAN[scalar]
        rows = np.arange(len(voices))[:, None]
        for index, slots in self._groups_by_size:
            hot = values[:, index] - _LO[index]  # (N, G): class of each block
            out[rows, slots[np.arange(len(index)), hot]] = 1.0
        return out

    def decode(self, vector: ArrayLike, template: Voice | None = None) -> Voice:
        """The voice of one vector; any float values decode (see the module docstring).

        Args:
            vector: shape (``size``,).
            template: supplies the parameters that are not learned (transpose, name);
                default :data:`DEFAULT_TEMPLATE`.

        Raises:
            RepresentationError: the vector is not of shape (``size``,).
        """
        array = np.asarray(vector, dtype=np.float64)
        if array.shape != (self.size,):
            raise RepresentationError(
                f"a {self.name!r} vector has shape ({self.size},), got {array.shape}: "
                f"pass one vector of this representation (decode_batch takes a matrix)"
            )
        return self.decode_batch(array[None, :], template)[0]

    def decode_batch(self, matrix: ArrayLike, template: Voice | None = None) -> list[Voice]:
        """The voices of an (N, ``size``) matrix; each row decodes as :meth:`decode`.

        Raises:
            RepresentationError: the matrix is not of shape (N, ``size``).
        """
        return [Voice(tuple(row)) for row in self.decode_values(matrix, template).tolist()]

    def decode_values(self, matrix: ArrayLike, template: Voice | None = None) -> np.ndarray:
        """The (N, 155) int64 VCED values of an (N, ``size``) matrix, valid by construction.

        Raises:
            RepresentationError: the matrix is not of shape (N, ``size``).
        """
        scores = np.asarray(matrix, dtype=np.float64)
        if scores.ndim != 2 or scores.shape[1] != self.size:
            raise RepresentationError(
                f"a batch of {self.name!r} vectors has shape (N, {self.size}), got {scores.shape}"
            )
        base = template if template is not None else DEFAULT_TEMPLATE
        values = np.empty((len(scores), VOICE_SIZE), dtype=np.int64)
        values[:, _FIXED] = [base.values[i] for i in _FIXED]
        self._decode_plan.write(scores, values)
        return values


def _build(name: str, categorical_one_hot: bool, numerical_max_steps: int) -> Representation:
    """Lay out LEARNABLE in VCED order: a one-hot block for each categorical parameter (when
    ``categorical_one_hot``) and each numerical one of at most ``numerical_max_steps`` steps,
    one scalar slot for every other parameter."""
    scalar_params: list[int] = []
    scalar_slots: list[int] = []
    groups: list[OneHotGroup] = []
    position = 0
    for spec in LEARNABLE:
        categorical = spec.kind is Kind.CATEGORICAL
        if categorical_one_hot if categorical else spec.steps <= numerical_max_steps:
            groups.append(OneHotGroup(spec.index, position, spec.steps, categorical))
            position += spec.steps
        else:
            scalar_params.append(spec.index)
            scalar_slots.append(position)
            position += 1
    slots = np.array(scalar_slots, dtype=np.intp)
    slots.setflags(write=False)
    return Representation(name, position, tuple(scalar_params), slots, tuple(groups))


REPRESENTATIONS: dict[str, Representation] = {
    rep.name: rep
    for rep in (
        _build("num", categorical_one_hot=False, numerical_max_steps=0),
        _build("numcat", categorical_one_hot=True, numerical_max_steps=0),
        _build("numcat++", categorical_one_hot=True, numerical_max_steps=ONE_HOT_MAX_STEPS),
    )
}


def get_representation(name: str) -> Representation:
    """The representation called ``name`` (case-insensitive: "NumCat++" works).

    Raises:
        RepresentationError: unknown name; the message lists the valid ones.
    """
    try:
        return REPRESENTATIONS[name.lower()]
    except KeyError:
        raise RepresentationError(
            f"unknown representation {name!r}; choose one of {', '.join(REPRESENTATIONS)}"
        ) from None
