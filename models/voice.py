"""The DX7 voice: 155 VCED values (0-154, the name included), validated.

A :class:`Voice` is immutable and always valid. Out-of-range input is either refused
(:meth:`Voice.from_values`) or clamped with a :class:`ClampReport` saying what changed
(:meth:`Voice.clamped`); never silently kept.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from models.errors import InvalidVoiceError
from models.params import (
    BY_INDEX,
    BY_NAME,
    NAME_LENGTH,
    NAME_START,
    VOICE_PARAMS,
    VOICE_SIZE,
    ParamSpec,
)


@dataclass(frozen=True)
class Clamp:
    """One value that was brought into range."""

    index: int
    name: str
    got: int
    became: int

    def __str__(self) -> str:
        return f"param {self.index} {BY_INDEX[self.index].label} = {self.got} -> {self.became}"


@dataclass(frozen=True)
class ClampReport:
    """Every value a lenient decode or :meth:`Voice.clamped` had to change."""

    clamps: tuple[Clamp, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.clamps)

    def __str__(self) -> str:
        return "; ".join(str(c) for c in self.clamps) if self.clamps else "no clamping"

    def __add__(self, other: ClampReport) -> ClampReport:
        return ClampReport(self.clamps + other.clamps)


def _clamp_value(spec: ParamSpec, value: int) -> int:
    return min(max(value, spec.lo), spec.hi)


_LOWEST = tuple(spec.lo for spec in VOICE_PARAMS)
_HIGHEST = tuple(spec.hi for spec in VOICE_PARAMS)


def _in_range(values: Sequence[int]) -> bool:
    """Whether every value lies in its parameter's range (one pass in C; a voice is built often)."""
    return not (any(map(operator.lt, values, _LOWEST)) or any(map(operator.gt, values, _HIGHEST)))


@dataclass(frozen=True)
class Voice:
    """A valid DX7 voice.

    Attributes:
        values: the 155 VCED values, operator 6 first; 145-154 are the name's ASCII codes.
    """

    values: tuple[int, ...] = field()

    def __post_init__(self) -> None:
        if len(self.values) != VOICE_SIZE:
            raise InvalidVoiceError(f"a voice has {VOICE_SIZE} VCED values, got {len(self.values)}")
        if not _in_range(self.values):
            bad = [spec.describe(v) for spec, v in zip(VOICE_PARAMS, self.values, strict=False) if not spec.lo <= v <= spec.hi]
            raise InvalidVoiceError("out of range: " + "; ".join(bad))

    @classmethod
    def from_values(cls, values: Iterable[int]) -> Voice:
        """Build a voice from 155 values; raises :class:`InvalidVoiceError` on any bad value."""
        return cls(tuple(map(int, values)))

    @classmethod
    def clamped(cls, values: Sequence[int]) -> tuple[Voice, ClampReport]:
        """Build a voice, bringing out-of-range values into range and reporting each one."""
        if len(values) != VOICE_SIZE:
            raise InvalidVoiceError(f"a voice has {VOICE_SIZE} VCED values, got {len(values)}")
        whole = tuple(map(int, values))
        if whole == tuple(values) and _in_range(whole):
            return cls(whole), ClampReport()
        out: list[int] = []
        clamps: list[Clamp] = []
        for spec, raw in zip(VOICE_PARAMS, values, strict=False):
            v = _clamp_value(spec, int(raw))
            if v != raw:
                clamps.append(Clamp(spec.index, spec.name, int(raw), v))
            out.append(v)
        return cls(tuple(out)), ClampReport(tuple(clamps))

    @classmethod
    def init(cls, name: str = "INIT VOICE") -> Voice:
        """The DX7 INIT VOICE: algorithm 1, OP1 sounding a plain sine at full level."""
        values = [0] * VOICE_SIZE
        for op in range(1, 7):
            for i in range(1, 5):
                values[BY_NAME[f"op{op}_eg_rate{i}"].index] = 99
            for i in range(1, 4):
                values[BY_NAME[f"op{op}_eg_level{i}"].index] = 99
            values[BY_NAME[f"op{op}_break_point"].index] = 39
            values[BY_NAME[f"op{op}_coarse"].index] = 1
            values[BY_NAME[f"op{op}_detune"].index] = 7
        values[BY_NAME["op1_output_level"].index] = 99
        for i in range(1, 5):
            values[BY_NAME[f"pitch_eg_rate{i}"].index] = 99
            values[BY_NAME[f"pitch_eg_level{i}"].index] = 50
        values[BY_NAME["osc_key_sync"].index] = 1
        values[BY_NAME["lfo_speed"].index] = 35
        values[BY_NAME["transpose"].index] = 24
        return cls.from_values(values).with_name(name)

    @property
    def name(self) -> str:
        """The 10-character name, padding kept; characters outside printable ASCII as '?'."""
        chars = self.values[NAME_START : NAME_START + NAME_LENGTH]
        return "".join(chr(c) if 32 <= c < 127 else "?" for c in chars)

    @property
    def vced(self) -> bytes:
        """The 155 VCED bytes, as carried by a single voice dump."""
        return bytes(self.values)

    def __getitem__(self, key: int | str) -> int:
        """A value by VCED index or parameter name."""
        index = BY_NAME[key].index if isinstance(key, str) else key
        return self.values[index]

    def with_name(self, name: str) -> Voice:
        """A copy renamed; the name is padded or cut to 10 characters and must be ASCII."""
        encoded = name[:NAME_LENGTH].ljust(NAME_LENGTH).encode("ascii", errors="strict")
        return Voice(self.values[:NAME_START] + tuple(encoded))

    def replace(self, changes: dict[int, int]) -> Voice:
        """A copy with some values changed (validated)."""
        values = list(self.values)
        for index, value in changes.items():
            values[index] = int(value)
        return Voice.from_values(values)

    def diff(self, other: Voice) -> dict[int, int]:
        """The parameters whose value differs in ``other``: ``{index: other's value}``."""
        return {i: b for i, (a, b) in enumerate(zip(self.values, other.values, strict=False)) if a != b}
