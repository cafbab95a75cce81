"""Daemon settings: one frozen dataclass, resolved once at startup from a TOML file, then
``DEXBRIDGE_*`` environment variables, then command-line flags (each overrides the one before),
and validated once; every handler reads the resolved :class:`Settings`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.osc.allow import AllowList
from engine.cores import all_cores
from engine.morph_path import DEFAULT_METHOD, MORPH_METHODS
from models.errors import ConfigError

ENV_PREFIX = "DEXBRIDGE_"
MIDI_APIS = ("auto", "jack", "alsa", "coremidi", "winmm")
OUTPUT_MODES = ("param", "dump", "cc", "osc")
SINKS = ("midi", "embedded", "dawdreamer")
DIN_BYTES_PER_SECOND = 3125  # 31 250 baud, 10 bits a byte
UDP_PAYLOAD_LIMIT = 65_000


@dataclass(frozen=True)
class Settings:
    """Everything ``dexbridge serve`` can be told; see ``dexbridge serve --help`` for each."""

    osc_host: str = "127.0.0.1"
    osc_port: int = 9000
    osc_tcp: bool = True
    reply_port: int | None = None
    allow: tuple[str, ...] = ()  # who may talk to the daemon; empty: this computer only (loopback)
    files_dir: tuple[Path, ...] = ()  # folders OSC requests may read, the first also written; empty: the default
    overwrite: bool = False
    midi_in: str | None = None
    midi_out: str | None = None
    midi_api: str = "auto"
    mode: tuple[str, ...] = ("param",)
    din: bool = False
    byte_budget: int | None = None
    channel: int = 1
    control_rate: float = 200.0
    slew_ms: float = 20.0
    morph_method: str = DEFAULT_METHOD  # how /dexbridge/morph moves between the slots: planned, latent, naive
    dump_debounce_ms: float = 50.0
    dump_wait_notes: bool = False
    messages_per_period: int | None = None  # pace the MIDI port: at most this many messages per JACK period
    resync_s: float | None = None  # send the whole voice again after this long without output; None: never
    sink: tuple[str, ...] = ()  # empty: "midi" when midi_out is set, else none
    plugin: Path | None = None
    cc_map: Path | None = None
    checkpoint: Path | None = None
    backend: str = "auto"
    engine_threads: int | None = None  # None: every core but one (:meth:`inference_threads`)
    search_ms: float = 500.0  # each inference's search budget: better voices stream until then
    search_renders: int | None = None  # also end each search after this many renders; None: the time budget only
    library: tuple[Path, ...] = ()  # voice libraries the search also starts from, beside the shipped one
    no_library: bool = False  # leave the shipped library out
    input_device: str | None = None
    output_device: str | None = None
    max_jobs: int = 4
    upload_limit: int = 16 * 1024 * 1024
    upload_timeout_s: float = 30.0
    client_uploads: int = 2
    client_jobs: int = 2
    shutdown_timeout_s: float = 5.0
    log_json: bool = False

    def __post_init__(self) -> None:
        if not self.sink and self.midi_out:
            object.__setattr__(self, "sink", ("midi",))
        _port(self.osc_port, "osc_port", allow_zero=True)
        if self.reply_port is not None:
            _port(self.reply_port, "reply_port", allow_zero=False)
        _choice(self.midi_api, MIDI_APIS, "midi_api")
        for mode in self.mode:
            _choice(mode, OUTPUT_MODES, "mode")
        for sink in self.sink:
            _choice(sink, SINKS, "sink")
        _require(1 <= self.channel <= 16, f"channel = {self.channel}, range 1..16 (MIDI channel as the synth shows it)")
        _require(math.isfinite(self.control_rate) and 1 <= self.control_rate <= 2000,
                 f"control_rate = {self.control_rate} Hz, range 1..2000 (default 200)")
        _require(math.isfinite(self.slew_ms) and 0 <= self.slew_ms <= 10_000, f"slew_ms = {self.slew_ms} ms, range 0..10000")
        _choice(self.morph_method, MORPH_METHODS, "morph_method")
        _require(math.isfinite(self.dump_debounce_ms) and 0 <= self.dump_debounce_ms <= 10_000,
                 f"dump_debounce_ms = {self.dump_debounce_ms} ms, range 0..10000")
        _require(self.messages_per_period is None or 1 <= self.messages_per_period <= 4096,
                 f"messages_per_period = {self.messages_per_period}, range 1..4096; leave unset to send bursts whole")
        _require(self.resync_s is None or (math.isfinite(self.resync_s) and 0.5 <= self.resync_s <= 3600),
                 f"resync_s = {self.resync_s} s, range 0.5..3600; leave unset for no idle refresh")
        _require(self.byte_budget is None or self.byte_budget >= 7,
                 f"byte_budget = {self.byte_budget} bytes/s, must be >= 7 (one parameter change); leave unset for no limit")
        _require(self.engine_threads is None or 1 <= self.engine_threads <= 256,
                 f"engine_threads = {self.engine_threads}, range 1..256; leave unset for every core but one")
        _require(math.isfinite(self.search_ms) and 0 <= self.search_ms <= 60_000,
                 f"search_ms = {self.search_ms} ms, range 0..60000 (0 = the first voice only)")
        _require(self.search_renders is None or 1 <= self.search_renders <= 100_000,
                 f"search_renders = {self.search_renders}, range 1..100000; leave unset for the time budget only")
        _require(1 <= self.max_jobs <= 64, f"max_jobs = {self.max_jobs}, range 1..64")
        _require(1 <= self.client_uploads <= 64, f"client_uploads = {self.client_uploads}, range 1..64 (open uploads per client)")
        _require(1 <= self.client_jobs <= 64, f"client_jobs = {self.client_jobs}, range 1..64 (inferences in flight per client)")
        try:
            AllowList.parse(self.allow)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        _require(1024 <= self.upload_limit <= 1 << 30, f"upload_limit = {self.upload_limit} bytes, range 1024..{1 << 30}")
        for name in ("upload_timeout_s", "shutdown_timeout_s"):
            value = getattr(self, name)
            _require(math.isfinite(value) and 0 < value <= 3600, f"{name} = {value} s, range 0..3600 (exclusive of 0)")
        _require(self.plugin is None or "dawdreamer" in self.sink,
                 f"plugin = {self.plugin} given but sink = {list(self.sink)}: add --sink dawdreamer")

    @property
    def midi_channel(self) -> int:
        """The 0-based MIDI channel the wire carries (``channel`` 1 -> 0)."""
        return self.channel - 1

    @property
    def bytes_per_second(self) -> int | None:
        """The output byte budget: ``byte_budget`` if set, else 3 125 B/s with ``din``, else unlimited."""
        if self.byte_budget is not None:
            return self.byte_budget
        return DIN_BYTES_PER_SECOND if self.din else None

    @classmethod
    def resolve(cls, config_file: Path | None = None, env: Mapping[str, str] | None = None,
                flags: Mapping[str, Any] | None = None) -> Settings:
        """Settings from a TOML file, overridden by ``DEXBRIDGE_*`` variables, overridden by flags.

        Args:
            config_file: a TOML file whose top-level keys are field names (``osc_port = 9000``).
            env: the environment (``os.environ`` when None); ``DEXBRIDGE_OSC_PORT=9001``.
            flags: parsed command-line values; ``None`` values mean "not given".

        Raises:
            ConfigError: an unknown key, a value of the wrong type, or one out of range.
        """
        values: dict[str, Any] = {}
        if config_file is not None:
            values.update(_from_toml(config_file))
        values.update(_from_env(os.environ if env is None else env))
        values.update({k: v for k, v in (flags or {}).items() if v is not None})
        unknown = sorted(set(values) - _FIELD_NAMES)
        _require(not unknown, f"unknown setting(s) {unknown}; known: {sorted(_FIELD_NAMES)}")
        converted = {name: _convert(name, value) for name, value in values.items()}
        try:
            return cls(**converted)
        except TypeError as exc:  # a TOML value of a type the field cannot hold
            raise ConfigError(f"settings: {exc}") from None

    @property
    def allow_list(self) -> AllowList:
        """``allow`` parsed (checked at construction)."""
        return AllowList.parse(self.allow)

    def inference_threads(self) -> int:
        """Intra-op threads for inference, and processes rendering for the search: ``engine_threads``, or
        every core but one (the event loop, MIDI and the synth keep a core; on a 2-core machine, 1: the
        search renders on its own thread)."""
        return self.engine_threads or max(1, all_cores() - 1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (paths and tuples as strings and lists)."""
        return {k: _json_ready(v) for k, v in dataclasses.asdict(self).items()}


_FIELD_NAMES = {f.name for f in dataclasses.fields(Settings)}
_HINTS = typing.get_type_hints(Settings)


def _json_ready(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_json_ready(item) for item in value]
    return str(value) if isinstance(value, Path) else value


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _port(value: int, name: str, *, allow_zero: bool) -> None:
    low = 0 if allow_zero else 1
    _require(low <= value <= 65535, f"{name} = {value}, range {low}..65535" + (" (0 = any free port)" if allow_zero else ""))


def _choice(value: str, choices: tuple[str, ...], name: str) -> None:
    _require(value in choices, f"{name} = {value!r}, choose from {', '.join(choices)}")


def _from_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"settings file {path} not found; pass an existing TOML file to --config") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"settings file {path}: {exc}") from None
    nested = [key for key, value in data.items() if isinstance(value, dict)]
    _require(not nested, f"settings file {path}: tables {nested} are not settings; write keys at the top level")
    return data


def _from_env(env: Mapping[str, str]) -> dict[str, str]:
    return {key[len(ENV_PREFIX):].lower(): value for key, value in env.items()
            if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX):].lower() in _FIELD_NAMES}


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{text!r} is not a boolean (true/false, 1/0, yes/no)")


def _parse_tuple(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    return tuple(str(item).strip() for item in items if str(item).strip())


_PARSERS: dict[type, Callable[[Any], Any]] = {int: int, float: float, str: str, bool: _parse_bool, Path: Path}


def _convert(name: str, value: Any) -> Any:
    """Bring a TOML/env/flag value to the field's type; strings are parsed, other values checked."""
    hint = _HINTS[name]
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType):  # X | None
        if value is None:
            return None
        hint = next(a for a in args if a is not type(None))
    if typing.get_origin(hint) is tuple:
        items = _parse_tuple(value)
        return tuple(Path(item) for item in items) if typing.get_args(hint)[0] is Path else items
    try:
        if isinstance(value, str) and hint is not str:
            return _PARSERS[hint](value)
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if hint is Path and isinstance(value, str | Path):
            return Path(value)
        if type(value) is not hint:
            raise ValueError(f"a {type(value).__name__} ({value!r}), expected {hint.__name__}")
        return value
    except ValueError as exc:
        raise ConfigError(f"setting {name}: {exc}") from None

