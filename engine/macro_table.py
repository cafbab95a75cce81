"""Macros around a voice that keep its structure: delta decoding from a table of decodes per axis.

With z0 the voice's latent point and D the decoder, the voice at macro values v is the origin voice
plus D(z0 + sum_k v_k axis_k) - D(z0), rounded and clipped to each parameter's range, on the
parameters a macro may move: so every macro at 0 is the origin voice exactly, and a small move makes
a small change. The voice's structure is the origin's, always (:data:`HELD`): the algorithm, each
operator's oscillator mode and frequency (coarse and fine), every other categorical parameter
(key-scaling curves, LFO wave, syncs), transpose and name; an operator whose output level is 0 stays
silent, every parameter of it unchanged, and one that sounds stays sounding (level at least 1).

A principal axis of the latents moves nearly every parameter a little, so that a 0.05 step of a macro
changed dozens of parameters at once. Each axis therefore moves only the :data:`MOVED` parameters its
decodes change most around the voice (by the largest change over -1..1, as a share of each parameter's
range): a 0.05 step changes at most that many per macro, and each macro is about a few things
(docs/morphing.md, *Macros*).

Per axis the table holds D at :data:`POSITIONS` evenly spaced positions over -1..1, decoded in one
batch when the origin is set (:meth:`engine.runtime.Engine.macro_table`); a macro step is then a
look-up and a blend of the two neighbouring rows, and several macros add their deltas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.errors import ModelInputError
from models.params import NAME_LENGTH, NAME_START, TRANSPOSE_INDEX, VOICE_PARAMS, Kind
from models.voice import Voice

__all__ = ["HELD", "MOVED", "POSITIONS", "MacroTable", "positions"]

POSITIONS = 41
"""Table rows per axis, evenly spaced over -1..1 (0.05 apart); the middle one is the origin."""
MOVED = 16
"""Parameters one macro axis moves around a voice: those its decodes change most."""
HELD = frozenset(p.index for p in VOICE_PARAMS if p.kind is Kind.CATEGORICAL
                 or p.name.endswith(("_coarse", "_fine"))) | {TRANSPOSE_INDEX} | set(range(NAME_START, NAME_START + NAME_LENGTH))
"""What a macro never moves: categorical parameters (algorithm, oscillator modes, curves, LFO wave,
syncs), operator frequencies (coarse and fine: the ratios), transpose and name."""
LEVELS = np.array([p.index for p in VOICE_PARAMS if p.name.endswith("_output_level")], dtype=np.intp)
"""Operator output levels: 0 stays 0 (the operator is off), above 0 stays at least 1."""

_LO = np.array([p.lo for p in VOICE_PARAMS], dtype=np.float64)
_HI = np.array([p.hi for p in VOICE_PARAMS], dtype=np.float64)
_HELD = np.zeros(len(VOICE_PARAMS), dtype=bool)
_HELD[sorted(HELD)] = True
_SPAN = np.maximum(_HI - _LO, 1.0)
_OPERATOR = np.array([-1 if p.op is None else p.op for p in VOICE_PARAMS])


def positions() -> np.ndarray:
    """The table's macro positions, -1..1 (:data:`POSITIONS` of them)."""
    return np.linspace(-1.0, 1.0, POSITIONS)


@dataclass(frozen=True)
class MacroTable:
    """The macro moves around one voice.

    Attributes:
        origin: the voice all macros at 0 give.
        deltas: (axes, :data:`POSITIONS`, 155) change of the decoded voice from the origin's decode at
            each table position; 0 at the middle row, on :data:`HELD` parameters, on silent operators and
            on all but the :data:`MOVED` parameters each axis moves most.
    """

    origin: Voice
    deltas: np.ndarray

    @classmethod
    def of(cls, origin: Voice, decoded: np.ndarray) -> MacroTable:
        """The table of ``origin`` from its decodes: (axes, :data:`POSITIONS`, 155) VCED values at
        :func:`positions` along each axis (the middle row of every axis is D(z0)).

        Raises:
            ModelInputError: ``decoded`` of another shape.
        """
        values = np.asarray(decoded, dtype=np.float64)
        if values.ndim != 3 or values.shape[1:] != (POSITIONS, len(VOICE_PARAMS)):
            raise ModelInputError(f"macro table of shape {values.shape}: need (axes, {POSITIONS}, {len(VOICE_PARAMS)})")
        deltas = values - values[:, POSITIONS // 2][:, None]
        start = np.asarray(origin.values)
        silent = np.isin(_OPERATOR, _OPERATOR[LEVELS][start[LEVELS] == 0])
        deltas[..., _HELD | silent] = 0.0
        reach = np.abs(deltas).max(axis=1) / _SPAN  # (axes, 155): the furthest each parameter moves
        unmoved = np.argsort(-reach, axis=1, kind="stable")[:, MOVED:]
        np.put_along_axis(deltas, unmoved[:, None, :].repeat(POSITIONS, axis=1), 0.0, axis=2)
        return cls(origin, deltas)

    @property
    def count(self) -> int:
        """Number of axes."""
        return int(self.deltas.shape[0])

    def voice_at(self, values: Sequence[float] | np.ndarray) -> Voice:
        """The origin moved by macro ``values`` (one per axis, -1..1; missing ones are 0).

        Raises:
            ModelInputError: more values than axes, or a value outside -1..1.
        """
        amounts = np.asarray(values, dtype=np.float64).reshape(-1)
        if amounts.size > self.count or not (np.isfinite(amounts).all() and (np.abs(amounts) <= 1.0).all()):
            raise ModelInputError(f"macro values {amounts.tolist()}: at most {self.count} values in -1..1")
        if not amounts.any():
            return self.origin
        start = np.asarray(self.origin.values, dtype=np.float64)
        moved = start.copy()
        for axis in np.flatnonzero(amounts):
            where = (amounts[axis] + 1.0) / 2.0 * (POSITIONS - 1)
            row = min(int(where + 1e-9), POSITIONS - 2)
            fraction = max(where - row, 0.0)
            moved += (1.0 - fraction) * self.deltas[axis, row] + fraction * self.deltas[axis, row + 1]
        voice = np.clip(np.rint(moved), _LO, _HI)
        voice[LEVELS] = np.where(start[LEVELS] == 0, 0, np.maximum(voice[LEVELS], 1))
        return Voice(tuple(int(v) for v in voice))
