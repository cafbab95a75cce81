"""The DX7 VCED parameter table (0-155) and the Dexed host-parameter orders.

One table, many views: validation, packing, learnable representations, CC scaling and Dexed
host-parameter normalisation all read :data:`PARAMS`. Layout from the DX7 manual (VCED single
voice, operator 6 first) and Dexed ``Source/PluginParam.cpp`` (``initCtrl``) for host names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """How a parameter is treated by the model and the tools."""

    NUMERICAL = "numerical"  # ordered integer range, learned
    CATEGORICAL = "categorical"  # unordered choice, learned
    TRANSPOSE = "transpose"  # numerical, but fixed by pitch handling, not learned
    NAME = "name"  # one ASCII character of the voice name
    SWITCH = "switch"  # operator on/off mask: parameter change only, not in dumps


@dataclass(frozen=True)
class ParamSpec:
    """One VCED parameter.

    Attributes:
        index: VCED parameter number (0-155), also the SysEx parameter-change number.
        name: unique snake_case name, e.g. ``op1_eg_rate1`` or ``algorithm``.
        group: ``"global"`` or ``"op1"`` .. ``"op6"``.
        op: operator number 1-6, ``None`` for global parameters.
        lo: smallest valid value.
        hi: largest valid value.
        kind: see :class:`Kind`.
        dexed_name: Dexed's host-parameter label, ``None`` where Dexed exposes none.
    """

    index: int
    name: str
    group: str
    op: int | None
    lo: int
    hi: int
    kind: Kind
    dexed_name: str | None

    @property
    def steps(self) -> int:
        """Number of distinct values."""
        return self.hi - self.lo + 1

    @property
    def learnable(self) -> bool:
        """True for the 144 parameters the model predicts."""
        return self.kind in (Kind.NUMERICAL, Kind.CATEGORICAL)

    @property
    def label(self) -> str:
        """The parameter as the DX7 and Dexed name it: ``OP6 EG LEVEL 2``, ``PITCH EG LEVEL 2``, ``LFO SPEED``."""
        if self.dexed_name:
            return self.dexed_name
        if self.kind is Kind.NAME:
            return f"VOICE NAME {self.index - NAME_START + 1}"
        return "OP ON/OFF"

    def describe(self, value: int) -> str:
        """A diagnostic naming the parameter, the value and the valid range."""
        return f"param {self.index} {self.label} = {value}, range {self.lo}..{self.hi}"


# Operator block, in VCED order: (suffix, hi, kind, Dexed label suffix).
_OPERATOR_FIELDS: tuple[tuple[str, int, Kind, str], ...] = (
    ("eg_rate1", 99, Kind.NUMERICAL, "EG RATE 1"),
    ("eg_rate2", 99, Kind.NUMERICAL, "EG RATE 2"),
    ("eg_rate3", 99, Kind.NUMERICAL, "EG RATE 3"),
    ("eg_rate4", 99, Kind.NUMERICAL, "EG RATE 4"),
    ("eg_level1", 99, Kind.NUMERICAL, "EG LEVEL 1"),
    ("eg_level2", 99, Kind.NUMERICAL, "EG LEVEL 2"),
    ("eg_level3", 99, Kind.NUMERICAL, "EG LEVEL 3"),
    ("eg_level4", 99, Kind.NUMERICAL, "EG LEVEL 4"),
    ("break_point", 99, Kind.NUMERICAL, "BREAK POINT"),
    ("left_depth", 99, Kind.NUMERICAL, "L SCALE DEPTH"),
    ("right_depth", 99, Kind.NUMERICAL, "R SCALE DEPTH"),
    ("left_curve", 3, Kind.CATEGORICAL, "L KEY SCALE"),
    ("right_curve", 3, Kind.CATEGORICAL, "R KEY SCALE"),
    ("rate_scaling", 7, Kind.NUMERICAL, "RATE SCALING"),
    ("amp_mod_sens", 3, Kind.NUMERICAL, "A MOD SENS."),
    ("key_vel_sens", 7, Kind.NUMERICAL, "KEY VELOCITY"),
    ("output_level", 99, Kind.NUMERICAL, "OUTPUT LEVEL"),
    ("osc_mode", 1, Kind.CATEGORICAL, "MODE"),
    ("coarse", 31, Kind.NUMERICAL, "F COARSE"),
    ("fine", 99, Kind.NUMERICAL, "F FINE"),
    ("detune", 14, Kind.NUMERICAL, "OSC DETUNE"),
)
OPERATOR_BLOCK = len(_OPERATOR_FIELDS)  # 21 bytes per operator
OPERATOR_FIELDS: tuple[str, ...] = tuple(field[0] for field in _OPERATOR_FIELDS)
"""The operator parameters' names without the ``opN_`` prefix, in VCED order."""

# Global block from 126, in VCED order: (name, hi, kind, Dexed label).
_GLOBAL_FIELDS: tuple[tuple[str, int, Kind, str | None], ...] = (
    ("pitch_eg_rate1", 99, Kind.NUMERICAL, "PITCH EG RATE 1"),
    ("pitch_eg_rate2", 99, Kind.NUMERICAL, "PITCH EG RATE 2"),
    ("pitch_eg_rate3", 99, Kind.NUMERICAL, "PITCH EG RATE 3"),
    ("pitch_eg_rate4", 99, Kind.NUMERICAL, "PITCH EG RATE 4"),
    ("pitch_eg_level1", 99, Kind.NUMERICAL, "PITCH EG LEVEL 1"),
    ("pitch_eg_level2", 99, Kind.NUMERICAL, "PITCH EG LEVEL 2"),
    ("pitch_eg_level3", 99, Kind.NUMERICAL, "PITCH EG LEVEL 3"),
    ("pitch_eg_level4", 99, Kind.NUMERICAL, "PITCH EG LEVEL 4"),
    ("algorithm", 31, Kind.CATEGORICAL, "ALGORITHM"),
    ("feedback", 7, Kind.NUMERICAL, "FEEDBACK"),
    ("osc_key_sync", 1, Kind.CATEGORICAL, "OSC KEY SYNC"),
    ("lfo_speed", 99, Kind.NUMERICAL, "LFO SPEED"),
    ("lfo_delay", 99, Kind.NUMERICAL, "LFO DELAY"),
    ("lfo_pm_depth", 99, Kind.NUMERICAL, "LFO PM DEPTH"),
    ("lfo_am_depth", 99, Kind.NUMERICAL, "LFO AM DEPTH"),
    ("lfo_sync", 1, Kind.CATEGORICAL, "LFO KEY SYNC"),
    ("lfo_wave", 5, Kind.CATEGORICAL, "LFO WAVE"),
    ("pitch_mod_sens", 7, Kind.NUMERICAL, "P MODE SENS."),
    ("transpose", 48, Kind.TRANSPOSE, "TRANSPOSE"),
)

NAME_START = 145
NAME_LENGTH = 10
OP_SWITCH_INDEX = 155
VOICE_SIZE = 155  # VCED bytes in a single voice dump (0-154; 155 is parameter-change only)
TRANSPOSE_INDEX = 144
TRANSPOSE_CENTRE = 24  # 24 = no shift (C3)
MIDDLE_C = 60  # MIDI note 60, which Yamaha names C3


def _build_table() -> tuple[ParamSpec, ...]:
    specs: list[ParamSpec] = []
    for op in range(6, 0, -1):  # OP6 first
        for suffix, hi, kind, label in _OPERATOR_FIELDS:
            specs.append(
                ParamSpec(len(specs), f"op{op}_{suffix}", f"op{op}", op, 0, hi, kind, f"OP{op} {label}")
            )
    for name, hi, kind, label in _GLOBAL_FIELDS:
        specs.append(ParamSpec(len(specs), name, "global", None, 0, hi, kind, label))
    for i in range(NAME_LENGTH):
        specs.append(ParamSpec(len(specs), f"name{i + 1}", "global", None, 0, 127, Kind.NAME, None))
    specs.append(ParamSpec(len(specs), "op_switch", "global", None, 0, 63, Kind.SWITCH, None))
    return tuple(specs)


PARAMS: tuple[ParamSpec, ...] = _build_table()
BY_INDEX: dict[int, ParamSpec] = {p.index: p for p in PARAMS}
BY_NAME: dict[str, ParamSpec] = {p.name: p for p in PARAMS}
VOICE_PARAMS: tuple[ParamSpec, ...] = PARAMS[:VOICE_SIZE]
LEARNABLE: tuple[ParamSpec, ...] = tuple(p for p in PARAMS if p.learnable)
NUMERICAL: tuple[ParamSpec, ...] = tuple(p for p in LEARNABLE if p.kind is Kind.NUMERICAL)
CATEGORICAL: tuple[ParamSpec, ...] = tuple(p for p in LEARNABLE if p.kind is Kind.CATEGORICAL)

# --- Dexed host parameters -------------------------------------------------------------------
# Dexed's host parameters: 4 (5 from v0.9.8) effect/tuning controls that are not voice data,
# then the globals, then per operator (OP1..OP6) a fixed label order ending in the op switch.
_DEXED_GLOBAL_ORDER = (
    "ALGORITHM", "FEEDBACK", "OSC KEY SYNC", "LFO SPEED", "LFO DELAY", "LFO PM DEPTH",
    "LFO AM DEPTH", "LFO KEY SYNC", "LFO WAVE", "TRANSPOSE", "P MODE SENS.",
    "PITCH EG RATE 1", "PITCH EG RATE 2", "PITCH EG RATE 3", "PITCH EG RATE 4",
    "PITCH EG LEVEL 1", "PITCH EG LEVEL 2", "PITCH EG LEVEL 3", "PITCH EG LEVEL 4",
)
_DEXED_OPERATOR_ORDER = (
    "EG RATE 1", "EG RATE 2", "EG RATE 3", "EG RATE 4",
    "EG LEVEL 1", "EG LEVEL 2", "EG LEVEL 3", "EG LEVEL 4",
    "OUTPUT LEVEL", "MODE", "F COARSE", "F FINE", "OSC DETUNE", "BREAK POINT",
    "L SCALE DEPTH", "R SCALE DEPTH", "L KEY SCALE", "R KEY SCALE", "RATE SCALING",
    "A MOD SENS.", "KEY VELOCITY", "SWITCH",
)


def _dexed_order(fx_controls: tuple[str, ...]) -> tuple[str, ...]:
    ops = tuple(f"OP{op} {label}" for op in range(1, 7) for label in _DEXED_OPERATOR_ORDER)
    return fx_controls + _DEXED_GLOBAL_ORDER + ops


DEXED_HOST_ORDER: dict[str, tuple[str, ...]] = {
    # v0.9.8 inserted MonoMode at host index 3: 156 parameters.
    "0.9.8": _dexed_order(("Cutoff", "Resonance", "Output", "MonoMode", "MASTER TUNE ADJ")),
    # Up to v0.9.7: 155 parameters.
    "0.9.7": _dexed_order(("Cutoff", "Resonance", "Output", "MASTER TUNE ADJ")),
}

# Dexed label -> VCED index. Operator switches map to the op-switch mask (155); effect and
# tuning controls are absent: they are not voice data.
DEXED_NAME_TO_VCED: dict[str, int] = {p.dexed_name: p.index for p in PARAMS if p.dexed_name}
DEXED_NAME_TO_VCED.update({f"OP{op} SWITCH": OP_SWITCH_INDEX for op in range(1, 7)})


def dexed_host_index(dexed_name: str, version: str = "0.9.8") -> int:
    """Host-parameter index of a Dexed label in the given version's order.

    Raises:
        KeyError: unknown version or label, with the valid choices named.
    """
    try:
        order = DEXED_HOST_ORDER[version]
    except KeyError:
        raise KeyError(f"unknown Dexed version {version!r}; known: {sorted(DEXED_HOST_ORDER)}") from None
    try:
        return order.index(dexed_name)
    except ValueError:
        raise KeyError(f"Dexed has no host parameter named {dexed_name!r}") from None


def to_host_value(spec: ParamSpec, value: int) -> float:
    """Dexed's normalised host value of a DX7 value (``CtrlDX::getValueHost``: value / max)."""
    return (value - spec.lo) / (spec.hi - spec.lo)


def from_host_value(spec: ParamSpec, normalised: float) -> int:
    """DX7 value for a normalised host value (``CtrlDX::setValueHost``: round(f * max))."""
    clipped = min(max(float(normalised), 0.0), 1.0)
    return spec.lo + round(clipped * (spec.hi - spec.lo))


# --- Values as people read them --------------------------------------------------------------
# The DX7 panel and Dexed show some values differently from the VCED bytes (DX7 manual, "Voice
# parameters"; Dexed Source/PluginParam.cpp): algorithm 1-32, detune -7..+7, transpose and break
# point as notes in Yamaha's octave numbering (C3 = middle C = MIDI 60, one octave below the usual
# C4 naming), an operator's frequency as a ratio or a fixed frequency, names for the choices.
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
OCTAVES = "Yamaha octaves: C3 = middle C"
"""How note names are numbered here; printed once wherever notes are shown."""
CURVES = ("-LIN", "-EXP", "+EXP", "+LIN")
LFO_WAVES = ("TRI", "SAW DN", "SAW UP", "SQR", "SINE", "S&H")
OSC_MODES = ("ratio", "fixed")
SWITCHES = ("off", "on")
_BREAK_POINT_LOWEST = 21  # break point 0 = A-1 (MIDI 21), 99 = C8
_CHOICES = {"left_curve": CURVES, "right_curve": CURVES, "osc_mode": OSC_MODES, "osc_key_sync": SWITCHES,
            "lfo_sync": SWITCHES, "lfo_wave": LFO_WAVES}


def note_name(midi_note: int) -> str:
    """A MIDI note named as the DX7 names it (:data:`OCTAVES`): 60 -> ``C3``, 69 (440 Hz) -> ``A3``."""
    return f"{NOTE_NAMES[midi_note % 12]}{midi_note // 12 - 2}"


def transpose_note(value: int) -> str:
    """The transpose value as the note the DX7 shows: 0 = C1, 24 = C3 (no shift), 48 = C5."""
    return note_name(MIDDLE_C + value - TRANSPOSE_CENTRE)


def operator_frequency(fixed: bool, coarse: int, fine: int) -> str:
    """An operator's frequency as the DX7 shows it: ``ratio 1.41`` (coarse 0 = 0.5, times 1 + fine/100)
    or ``fixed 14.13 Hz`` (10 ** (coarse mod 4 + fine / 100) Hz)."""
    if fixed:
        return f"fixed {10 ** (coarse % 4 + fine / 100):.4g} Hz"
    return f"ratio {(coarse or 0.5) * (1 + fine / 100):.2f}"


def display_value(spec: ParamSpec, value: int, voice: Sequence[int] | None = None) -> int | str:
    """A parameter's value as people read it on the DX7 or in Dexed.

    Args:
        spec: the parameter.
        value: its VCED value.
        voice: the voice's VCED values; coarse and fine are shown as the operator's frequency, which
            needs its mode and the other of the two (without ``voice``, their raw values).

    Returns:
        A whole number where the panel shows one (algorithm 1-32, detune -7..+7, levels and rates as
        stored), else a word or a note (``C3``, ``+LIN``, ``SINE``, ``ratio 1.00``, ``fixed 100 Hz``).
    """
    field = spec.name.removeprefix(f"op{spec.op}_") if spec.op else spec.name
    if field == "algorithm":
        return value + 1
    if field == "detune":
        return value - 7
    if field == "transpose":
        return transpose_note(value)
    if field == "break_point":
        return note_name(_BREAK_POINT_LOWEST + value)
    if field in _CHOICES:
        return _CHOICES[field][value]
    if field in ("coarse", "fine") and voice is not None:
        base = spec.index - OPERATOR_FIELDS.index(field)
        return operator_frequency(bool(voice[base + OPERATOR_FIELDS.index("osc_mode")]),
                                  voice[base + OPERATOR_FIELDS.index("coarse")], voice[base + OPERATOR_FIELDS.index("fine")])
    return value


def describe_change(spec: ParamSpec, value: int, voice: Sequence[int] | None = None) -> str:
    """One parameter's value for people, named as the DX7 shows it, with the stored value when they
    differ: ``ALGORITHM = 18 (VCED 17)``, ``OP1 OSC DETUNE = -3 (VCED 4)``, ``OP1 EG RATE 1 = 99``."""
    shown = display_value(spec, value, voice)
    return f"{spec.label} = {shown}" + ("" if shown == value else f" (VCED {value})")
