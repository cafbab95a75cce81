"""Run configuration: front end, model and training settings as frozen dataclasses.

A TOML file maps one table to one dataclass (``[model] flow_layers = 6`` ->
``ModelConfig(flow_layers=6)``); a top-level ``include = "other.toml"`` loads that file first
and overlays this one on it, table by table. The resolved configuration is stored in the
checkpoint (:meth:`RunConfig.to_dict`) and its :meth:`RunConfig.config_hash` names the run.
Defaults follow Le Vaillant, Dutoit, Dekeyser, DAFx 2021.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from models.errors import ConfigError
from models.render import RENDER_SECONDS, SAMPLE_RATE, SINGLE_NOTE
from models.representations import REPRESENTATIONS

ENCODER_HEADS = ("lean", "paper")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass(frozen=True)
class FrontendConfig:
    """Audio -> normalised mel spectrogram (see :mod:`models.frontend`)."""

    sample_rate: int = SAMPLE_RATE
    n_fft: int = 1024
    hop: int = 256
    n_mels: int = 257
    floor_db: float = -120.0
    duration_s: float = RENDER_SECONDS

    def __post_init__(self) -> None:
        _require(self.sample_rate > 0, f"frontend.sample_rate = {self.sample_rate} Hz, must be > 0")
        _require(self.n_fft >= 16, f"frontend.n_fft = {self.n_fft}, must be >= 16")
        _require(0 < self.hop <= self.n_fft, f"frontend.hop = {self.hop}, range 1..n_fft ({self.n_fft})")
        _require(
            0 < self.n_mels <= self.n_fft // 2 + 1,
            f"frontend.n_mels = {self.n_mels}, range 1..{self.n_fft // 2 + 1} (n_fft // 2 + 1)",
        )
        _require(self.floor_db < 0, f"frontend.floor_db = {self.floor_db} dB, must be < 0 dB")
        _require(self.duration_s > 0, f"frontend.duration_s = {self.duration_s} s, must be > 0")

    @property
    def num_samples(self) -> int:
        """Samples of one rendered note (88 200 for 4 s at 22 050 Hz)."""
        return round(self.sample_rate * self.duration_s)

    @property
    def num_frames(self) -> int:
        """STFT frames of ``num_samples`` with ``center=True`` (345 for 88 200 samples, hop 256)."""
        return 1 + self.num_samples // self.hop


@dataclass(frozen=True)
class ModelConfig:
    """The sound-to-voice network (see :mod:`models.networks`).

    Attributes:
        representation: learnable representation the regression flow outputs.
        notes: (MIDI pitch, velocity) of each rendered note, one input channel each: the
            paper's ``models.render.SINGLE_NOTE`` or ``MULTI_NOTES``.
        encoder_head: "lean" (1x1 channel reduction to ``head_channels`` + small linear) or
            "paper" (flatten the last conv layer + one linear, the paper's 24 576 -> 2 x 610).
        encoder_channels: output channels of the encoder's conv layers: first 5x5 stride 2, then
            4x4 stride 2, last 1x1. The decoder mirrors all but the last.
        head_channels: channels of the lean head's 1x1 reduction (unused by "paper").
        flow_layers: coupling layers of each RealNVP flow (latent and regression).
        flow_hidden: width of the coupling networks' hidden layers.
        flow_hidden_layers: hidden layers per coupling network.
        flow_max_log_scale: bound of a coupling layer's log-scale (soft tanh clamp).
        decoder: build the spectrogram decoder (training); serving never needs it.
    """

    representation: str = "numcat++"
    notes: tuple[tuple[int, int], ...] = SINGLE_NOTE
    encoder_head: str = "lean"
    encoder_channels: tuple[int, ...] = (8, 16, 32, 64, 128, 192, 256, 256)
    head_channels: int = 96
    flow_layers: int = 6
    flow_hidden: int = 300
    flow_hidden_layers: int = 1
    flow_max_log_scale: float = 2.0
    decoder: bool = True

    def __post_init__(self) -> None:
        _require(
            self.representation in REPRESENTATIONS,
            f"model.representation = {self.representation!r}; choose one of {', '.join(REPRESENTATIONS)}",
        )
        _require(len(self.notes) > 0, "model.notes is empty: give at least one [pitch, velocity] pair")
        for pitch, velocity in self.notes:
            _require(0 <= pitch <= 127, f"model.notes pitch {pitch}, range 0..127 (MIDI note number)")
            _require(1 <= velocity <= 127, f"model.notes velocity {velocity}, range 1..127 (0 is note-off)")
        _require(len(set(self.notes)) == len(self.notes), f"model.notes {list(self.notes)} repeats a note")
        _require(
            self.encoder_head in ENCODER_HEADS,
            f"model.encoder_head = {self.encoder_head!r}; choose one of {', '.join(ENCODER_HEADS)}",
        )
        _require(
            len(self.encoder_channels) >= 3 and min(self.encoder_channels) > 0,
            f"model.encoder_channels = {list(self.encoder_channels)}: give >= 3 positive widths "
            "(5x5 layer, 4x4 stride-2 layers, final 1x1 layer)",
        )
        for name in ("head_channels", "flow_layers", "flow_hidden", "flow_hidden_layers"):
            _require(getattr(self, name) > 0, f"model.{name} = {getattr(self, name)}, must be >= 1")
        _require(
            math.isfinite(self.flow_max_log_scale) and self.flow_max_log_scale > 0,
            f"model.flow_max_log_scale = {self.flow_max_log_scale}, must be a finite number > 0",
        )

    @property
    def latent_dim(self) -> int:
        """Latent size = representation length (the regression flow is a bijection)."""
        return REPRESENTATIONS[self.representation].size

    @property
    def n_notes(self) -> int:
        """Number of notes, i.e. spectrogram channels."""
        return len(self.notes)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and loss weights."""

    lr: float = 2e-4
    head_lr_scale: float = 60.0
    batch_size: int = 160
    epochs: int = 200
    beta_start: float = 0.1
    beta_end: float = 0.2
    beta_warmup_epochs: int = 25
    cat_temperature: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        _require(self.lr > 0, f"train.lr = {self.lr}, must be > 0")
        _require(self.head_lr_scale > 0, f"train.head_lr_scale = {self.head_lr_scale}, must be > 0")
        _require(self.batch_size > 0, f"train.batch_size = {self.batch_size}, must be >= 1")
        _require(self.epochs > 0, f"train.epochs = {self.epochs}, must be >= 1")
        _require(
            self.beta_start >= 0 and self.beta_end >= 0,
            f"train.beta_start = {self.beta_start}, beta_end = {self.beta_end}: must be >= 0",
        )
        _require(self.beta_warmup_epochs >= 0, f"train.beta_warmup_epochs = {self.beta_warmup_epochs}, must be >= 0")
        _require(self.cat_temperature > 0, f"train.cat_temperature = {self.cat_temperature}, must be > 0")


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs; one TOML table per part."""

    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain JSON/TOML types (tuples as lists), e.g. to store in a checkpoint."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "config") -> RunConfig:
        """Build from :meth:`to_dict` output or parsed TOML; missing keys take their defaults.

        Args:
            data: ``{"model": {...}, ...}``; every table is optional.
            source: where the data came from, for error messages.

        Raises:
            ConfigError: unknown table or key (the message lists the valid ones), a value of
                the wrong type, or a value out of range.
        """
        sections = {f.name: typing.get_type_hints(cls)[f.name] for f in fields(cls)}
        unknown = sorted(set(data) - set(sections))
        if unknown:
            raise ConfigError(f"unknown table [{unknown[0]}] in {source}; valid tables: {', '.join(sections)}")
        parts = {}
        for name, part_cls in sections.items():
            table = data.get(name, {})
            _require(isinstance(table, Mapping), f"[{name}] in {source} must be a table, got {table!r}")
            parts[name] = _build_part(part_cls, name, table, source)
        return cls(**parts)

    @classmethod
    def from_stored(cls, data: Mapping[str, Any], source: str = "stored config") -> RunConfig:
        """A config stored in a checkpoint: a key the run predates takes the value that run used
        (:data:`ADDED_KEYS`), not today's default."""
        filled = {part: {**ADDED_KEYS.get(part, {}), **table} if isinstance(table, Mapping) else table
                  for part, table in data.items()}
        return cls.from_dict(filled, source)

    def config_hash(self) -> str:
        """12 hex digits of the SHA-256 of the canonical JSON of :meth:`to_dict`: names the run."""
        return hash_config_dict(self.to_dict())


def hash_config_dict(data: Mapping[str, Any]) -> str:
    """12 hex digits of the SHA-256 of the canonical JSON of a config dict (as stored in a checkpoint)."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


# Keys added after runs were stored, with the value those runs trained with.
ADDED_KEYS: dict[str, dict[str, Any]] = {"train": {"head_lr_scale": 1.0}}


def _build_part(part_cls: type, section: str, table: Mapping[str, Any], source: str) -> Any:
    hints = typing.get_type_hints(part_cls)
    valid = [f.name for f in fields(part_cls)]
    for key in table:
        _require(
            key in valid,
            f"unknown key '{section}.{key}' in {source}; valid keys in [{section}]: {', '.join(valid)}",
        )
    values = {key: _coerce(value, hints[key], f"{section}.{key}", source) for key, value in table.items()}
    try:
        return part_cls(**values)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def _coerce(value: Any, hint: Any, key: str, source: str) -> Any:
    """Check ``value`` against the field type; lists become tuples, ints become floats."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    wrong = ConfigError(f"'{key}' = {value!r} in {source}: expected {_describe(hint)}")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise wrong
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(item, args[0], key, source) for item in value)
        if len(value) != len(args):
            raise wrong
        return tuple(_coerce(item, arg, key, source) for item, arg in zip(value, args, strict=True))
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str, bool) and type(value) is hint:
        return value
    raise wrong


def _describe(hint: Any) -> str:
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_describe(args[0])}"
        return f"a list [{', '.join(_describe(a) for a in args)}]"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}[hint]


def _read_table(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    """Parse ``path`` with its ``include`` chain resolved (relative to the including file)."""
    resolved = path.resolve()
    _require(resolved not in seen, f"{path}: include cycle through {' -> '.join(map(str, seen))}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    include = data.pop("include", None)
    if include is None:
        return data
    _require(isinstance(include, str), f"'include' in {path} must be a file name string, got {include!r}")
    merged = _read_table(path.parent / include, (*seen, resolved))
    for section, table in data.items():
        base = merged.get(section)
        merged[section] = {**base, **table} if isinstance(base, dict) and isinstance(table, dict) else table
    return merged


def load_config(path: Path) -> RunConfig:
    """Load a TOML run configuration (with its ``include`` chain).

    Args:
        path: the TOML file.

    Returns:
        The validated configuration; absent keys take their defaults.

    Raises:
        ConfigError: missing file, invalid TOML, include cycle, unknown table or key, wrong
            type or out-of-range value.
    """
    return RunConfig.from_dict(_read_table(Path(path), ()), source=str(path))
