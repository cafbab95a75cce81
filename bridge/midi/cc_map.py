"""MIDI CC maps: which (channel, CC) drives which DX7 parameter, in a TOML file; exact 7-bit scaling.

Dexed has no CC map of its own: a user MIDI-learns each knob (``dexbridge cc-learn`` sends every
mapped CC in turn for that). A learned CC changes the parameter through its host control,
``CtrlDX::setValueHost(cc / 127)`` = ``round(cc / 127 * max)`` (Dexed ``Source/PluginParam.cpp``),
which updates sounding notes. Sending ``round(value * 127 / max)`` is exact for every DX7 range
(max <= 99 < 127): each value maps to a distinct CC value and back.

Dexed keys learned CCs by channel and number, and handles CC 1, 2, 4, 5, 64, 65, 120 and 123 itself
(never learnable); 120-127 are channel-mode messages. The file format::

    # a dexbridge CC map: channel 1-16 and CC 0-127 as a MIDI monitor shows them
    format = 1

    [params]
    op1_eg_rate1 = { channel = 1, cc = 3 }
    algorithm = { channel = 1, cc = 82 }
"""

from __future__ import annotations

import os
import tomllib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bridge.atomicfile import atomic_write_text
from models.errors import ConfigError
from models.params import BY_INDEX, BY_NAME, PARAMS, VOICE_SIZE, ParamSpec, from_host_value

FORMAT_VERSION = 1
CC_STATUS = 0xB0
CC_MAX = 127
# Controllers Dexed (v1.0 PluginProcessor.cpp) consumes before MIDI learn, and channel-mode messages.
RESERVED_CCS: dict[int, str] = {
    1: "mod wheel", 2: "breath controller", 4: "foot controller", 5: "portamento time",
    64: "sustain pedal", 65: "portamento on/off",
    **dict.fromkeys(range(120, 128), "a channel-mode message"),
}
# The default map also avoids controllers DAWs and keyboards commonly claim: bank select,
# data entry, volume, pan, expression, pedals, portamento control, (N)RPN.
_COMMONLY_CLAIMED = {0, 6, 7, 10, 11, 32, 38, 66, 67, 68, 69, 84, 96, 97, 98, 99, 100, 101}
DEFAULT_CCS: tuple[int, ...] = tuple(cc for cc in range(120) if cc not in RESERVED_CCS and cc not in _COMMONLY_CLAIMED)
# Every parameter with a Dexed host control: the 144 learnable ones and transpose (not the name).
MAPPABLE: tuple[ParamSpec, ...] = tuple(p for p in PARAMS if p.dexed_name and p.index < VOICE_SIZE)
_OPS_PER_CHANNEL = 3


def cc_value(spec: ParamSpec, value: int) -> int:
    """The 7-bit CC value that makes Dexed set ``spec`` to ``value``: ``round(value * 127 / max)``."""
    return round((value - spec.lo) * CC_MAX / (spec.hi - spec.lo))


def param_value(spec: ParamSpec, cc: int) -> int:
    """The value Dexed sets ``spec`` to on receiving CC value ``cc`` (``round(cc / 127 * max)``)."""
    return from_host_value(spec, cc / CC_MAX)


@dataclass(frozen=True)
class CcAssignment:
    """One parameter driven by one controller; ``channel`` is 0-15 (shown as 1-16)."""

    index: int
    channel: int
    cc: int

    @property
    def spec(self) -> ParamSpec:
        """The parameter's table entry."""
        return BY_INDEX[self.index]

    def __str__(self) -> str:
        return f"{self.spec.name} = channel {self.channel + 1} CC {self.cc}"


class CcMap:
    """A validated set of CC assignments; encodes values as CC messages and decodes them back.

    Args:
        assignments: at most one per parameter and one per (channel, CC).

    Raises:
        ConfigError: a parameter Dexed cannot learn, a channel or CC out of range, a CC Dexed
            reserves, or a parameter or controller assigned twice; the message names both.
    """

    def __init__(self, assignments: Iterable[CcAssignment]) -> None:
        self.by_param: dict[int, CcAssignment] = {}
        self.by_control: dict[tuple[int, int], CcAssignment] = {}
        mappable = {p.index for p in MAPPABLE}
        for item in assignments:
            _check(item, mappable)
            if item.index in self.by_param:
                raise ConfigError(f"{item.spec.name} assigned twice: {self.by_param[item.index]} and {item}")
            control = (item.channel, item.cc)
            if control in self.by_control:
                raise ConfigError(f"channel {item.channel + 1} CC {item.cc} assigned twice: {self.by_control[control]} and {item}")
            self.by_param[item.index] = item
            self.by_control[control] = item
        self.carried: frozenset[int] = frozenset(self.by_param)

    @classmethod
    def default(cls, first_channel: int = 0) -> CcMap:
        """The default map: OP1-OP3 and the globals on ``first_channel``, OP4-OP6 on the next.

        Each operator's 21 parameters take 21 consecutive entries of :data:`DEFAULT_CCS`
        (VCED order within the operator); the 19 globals follow OP3. 145 parameters in all.

        Raises:
            ConfigError: ``first_channel`` is not 0-14.
        """
        if not 0 <= first_channel <= 14:
            raise ConfigError(f"first CC channel {first_channel + 1} out of range 1..15 (the map uses two channels)")
        used: Counter[int] = Counter()
        assignments: list[CcAssignment] = []
        for spec in sorted(MAPPABLE, key=lambda p: (p.op is None, p.op or 0, p.index)):
            channel = first_channel if spec.op is None else first_channel + (spec.op - 1) // _OPS_PER_CHANNEL
            assignments.append(CcAssignment(spec.index, channel, DEFAULT_CCS[used[channel]]))
            used[channel] += 1
        return cls(assignments)

    def __iter__(self) -> Iterator[CcAssignment]:
        """Assignments by channel, then CC number."""
        return iter(sorted(self.by_param.values(), key=lambda a: (a.channel, a.cc)))

    def __len__(self) -> int:
        return len(self.by_param)

    @property
    def unmapped(self) -> tuple[ParamSpec, ...]:
        """Parameters Dexed could learn that this map leaves out."""
        return tuple(p for p in MAPPABLE if p.index not in self.by_param)

    def encode(self, index: int, value: int) -> bytes:
        """The 3-byte CC message setting parameter ``index`` to ``value``.

        Raises:
            ConfigError: the parameter is not in the map, or the value is out of its range.
        """
        item = self.by_param.get(index)
        if item is None:
            raise ConfigError(f"param {index} '{BY_INDEX[index].name}' has no CC in this map: add it or use param mode")
        if not item.spec.lo <= value <= item.spec.hi:
            raise ConfigError(f"{item.spec.describe(value)}: no CC value can carry it")
        return bytes([CC_STATUS | item.channel, item.cc, cc_value(item.spec, value)])

    def decode(self, channel: int, cc: int, value: int) -> tuple[int, int] | None:
        """The (VCED index, value) Dexed sets for a CC, or None when the map does not use it."""
        item = self.by_control.get((channel, cc))
        return None if item is None else (item.index, param_value(item.spec, value))

    def to_toml(self) -> str:
        """The map as a CC map file (see the module docstring)."""
        lines = ["# dexbridge CC map: channel 1-16 and CC 0-127 as a MIDI monitor shows them", f"format = {FORMAT_VERSION}",
                 "", "[params]"]
        lines += [f"{a.spec.name} = {{ channel = {a.channel + 1}, cc = {a.cc} }}" for a in self]
        return "\n".join(lines) + "\n"


def _check(item: CcAssignment, mappable: set[int]) -> None:
    spec = BY_INDEX.get(item.index)
    if spec is None or item.index not in mappable:
        name = f" '{spec.name}'" if spec else ""
        raise ConfigError(f"param {item.index}{name} has no Dexed host control: only the 144 learnable parameters "
                          "and transpose can be MIDI-learned")
    if not 0 <= item.channel <= 15:
        raise ConfigError(f"{spec.name}: channel {item.channel + 1} out of range 1..16")
    if not 0 <= item.cc <= CC_MAX:
        raise ConfigError(f"{spec.name}: CC {item.cc} out of range 0..127")
    if item.cc in RESERVED_CCS:
        raise ConfigError(f"{spec.name}: CC {item.cc} is {RESERVED_CCS[item.cc]}, which Dexed never MIDI-learns; "
                          f"pick another, e.g. one of {DEFAULT_CCS[:4]}")


def load_cc_map(path: str | os.PathLike[str]) -> CcMap:
    """Read a CC map file.

    Raises:
        OSError: the file cannot be read.
        ConfigError: not TOML, another format version, an unknown parameter name, an entry
            without integer ``channel`` (1-16) and ``cc`` (0-127), or any :class:`CcMap` problem;
            the message names the file.
    """
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path.name}: not a TOML CC map: {exc}") from exc
    if document.get("format") != FORMAT_VERSION:
        raise ConfigError(f"{path.name}: format = {document.get('format')!r}, expected {FORMAT_VERSION}")
    params = document.get("params")
    if not isinstance(params, dict) or not params:
        raise ConfigError(f"{path.name}: no [params] table: write lines like 'algorithm = {{ channel = 1, cc = 3 }}'")
    assignments = [_assignment(path.name, name, entry) for name, entry in params.items()]
    try:
        return CcMap(assignments)
    except ConfigError as exc:
        raise ConfigError(f"{path.name}: {exc}") from exc


def _assignment(file: str, name: str, entry: object) -> CcAssignment:
    spec = BY_NAME.get(name)
    if spec is None:
        raise ConfigError(f"{file}: unknown parameter {name!r}; names are as in models/params.py, e.g. 'op1_eg_rate1'")
    if not isinstance(entry, dict) or set(entry) != {"channel", "cc"} or not all(
        type(entry[key]) is int for key in ("channel", "cc")
    ):
        raise ConfigError(f"{file}: {name} = {entry!r}: expected {{ channel = 1-16, cc = 0-127 }} (integers)")
    return CcAssignment(spec.index, entry["channel"] - 1, entry["cc"])


def save_cc_map(path: str | os.PathLike[str], cc_map: CcMap) -> None:
    """Write a CC map file atomically (temp file + rename).

    Raises:
        OSError: the file cannot be written.
    """
    atomic_write_text(path, cc_map.to_toml())
