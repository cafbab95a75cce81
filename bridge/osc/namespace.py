"""The ``/dexbridge`` OSC namespace as data: every address the daemon serves and every reply it sends.

``OSC_ROUTES`` drives the server's argument checks, the check of the daemon's handler table
(:func:`check_bound`; the table itself is ``bridge.daemon.session.BridgeSession.routes``), the manual's table (docs/osc.md)
(:func:`render_namespace_table`) and the Max patches' contract test. An argument spec is a string
of OSC type letters (``s`` string, ``i`` int32, ``f`` float32, ``b`` blob): ``x*`` means any number
of ``x`` (zero or more), ``[x]`` an optional trailing argument, ``(si)`` one argument of either type.
An ``i`` is accepted where an ``f`` is expected (Max sends whole numbers as ints), and a whole-number
``f`` (``3.0``) or an OSC true/false (``T`` = 1, ``F`` = 0) where an ``i`` is expected (TouchOSC, Lemur
and Max's flonum send floats); NaN and infinity never pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from bridge.osc.packet import OscTimeTag
from models.errors import DexbridgeError

PREFIX = "/dexbridge"
OscValue = str | int | float | bytes
_TYPE_NAMES = {"s": "string", "i": "int", "f": "float", "b": "blob"}
FILE_ACCESS = ("", "reads", "writes")


class OscArgumentError(DexbridgeError, ValueError):
    """OSC arguments that do not fit an address's argument spec (count, type, NaN/inf)."""


@dataclass(frozen=True)
class ArgSlot:
    """One position of an argument spec: the accepted type letters, optional, repeated."""

    types: str
    optional: bool = False
    repeated: bool = False


def parse_arg_spec(spec: str) -> tuple[ArgSlot, ...]:
    """Parse an argument spec such as ``"bi"``, ``"f*"``, ``"f[f]"`` or ``"i(si)"``.

    Raises:
        ValueError: a malformed spec (a programming error in the table, not user input).
    """
    slots: list[ArgSlot] = []
    pos = 0
    while pos < len(spec):
        char = spec[pos]
        optional = char == "["
        if optional:
            char = spec[pos + 1]
            pos += 1
        if char == "(":
            end = spec.index(")", pos)
            types, pos = spec[pos + 1:end], end + 1
        else:
            types, pos = char, pos + 1
        if optional:
            if spec[pos:pos + 1] != "]":
                raise ValueError(f"argument spec {spec!r}: '[' without ']' at {pos}")
            pos += 1
        repeated = spec[pos:pos + 1] == "*"
        pos += repeated
        if not types or any(t not in _TYPE_NAMES for t in types):
            raise ValueError(f"argument spec {spec!r}: unknown type in {types!r}")
        if slots and (slots[-1].optional or slots[-1].repeated) and not (optional or repeated):
            raise ValueError(f"argument spec {spec!r}: a required argument after an optional one")
        slots.append(ArgSlot(types, optional, repeated))
    return tuple(slots)


def _a(word: str) -> str:
    """``word`` with its article: "an int", "a float"."""
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def _describe(types: str) -> str:
    """The OSC types a slot takes, in words: "an int or a string"."""
    return " or ".join(_a(_TYPE_NAMES[t]) for t in types)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _shown(value: OscValue) -> str:
    """What came, as an OSC user names it: "a string ('left')", "a nil", "a MIDI message (90 3c 64 00)"."""
    if value is None:
        return "a nil"
    if isinstance(value, OscTimeTag):
        return "an OSC time tag"
    if isinstance(value, bool):
        return f"an OSC true/false ({'T' if value else 'F'})"
    if isinstance(value, tuple):  # the MIDI type 'm' decodes to a 4-tuple
        return f"a MIDI message ({' '.join(f'{int(b) & 0xFF:02x}' for b in value)})"
    name = {float: "float", int: "int", str: "string", bytes: "blob", bytearray: "blob"}.get(type(value))
    if name is None:
        return f"an unsupported OSC value ({value!r:.40})"
    return f"{_a(name)} ({len(value)} bytes)" if name == "blob" else f"{_a(name)} ({value!r:.40})"


def _check_value(address: str, position: int, types: str, value: OscValue) -> OscValue:
    # bool is an int subclass; python-osc decodes T/F to bools, which are never valid here
    if isinstance(value, float) and "f" in types:
        if not math.isfinite(value):
            raise OscArgumentError(f"{address}: argument {position + 1} is {value}; it must be a finite float")
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if "i" in types:
            return value
        if "f" in types:
            return float(value)
    if "i" in types:  # controllers (TouchOSC, Lemur, Max's flonum, liblo's habit) send whole numbers as floats
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, float) and value.is_integer() and -2**31 <= value < 2**31:
            return int(value)
        if isinstance(value, float):
            raise OscArgumentError(f"{address}: argument {position + 1} is {_shown(value)}; expected {_describe(types)} "
                                   "(a whole number: 3 or 3.0)")
    if isinstance(value, str) and "s" in types:
        return value
    if isinstance(value, bytes | bytearray) and "b" in types:
        return bytes(value)
    raise OscArgumentError(f"{address}: argument {position + 1} is {_shown(value)}; expected {_describe(types)}")


def check_args(address: str, slots: Sequence[ArgSlot], args: Sequence[OscValue]) -> tuple[OscValue, ...]:
    """Check ``args`` against a parsed spec; ints become floats where a float is expected.

    Returns:
        The checked (and converted) arguments.

    Raises:
        OscArgumentError: wrong count, a wrong type, NaN or infinity; the message names the
            address, the argument position, what came and what is expected.
    """
    checked: list[OscValue] = []
    index = 0
    for slot in slots:
        if slot.repeated:
            while index < len(args):
                checked.append(_check_value(address, index, slot.types, args[index]))
                index += 1
        elif index < len(args):
            checked.append(_check_value(address, index, slot.types, args[index]))
            index += 1
        elif not slot.optional:
            raise OscArgumentError(f"{address}: {_plural(len(args), 'argument')}, expected {describe_spec(slots)}")
    if index < len(args):
        raise OscArgumentError(f"{address}: {_plural(len(args), 'argument')}, expected {describe_spec(slots)}")
    return tuple(checked)


def describe_spec(slots: Sequence[ArgSlot]) -> str:
    """A readable form of a parsed spec: ``"a float, then an optional float"``."""
    if not slots:
        return "no arguments"
    words = []
    for slot in slots:
        name = _describe(slot.types)
        if slot.repeated:
            words.append("any number of " + " or ".join(f"{_TYPE_NAMES[t]}s" for t in slot.types))
        else:
            words.append(f"optionally {name}" if slot.optional else name)
    return ", then ".join(words)


@dataclass(frozen=True)
class Route:
    """One OSC message: its address, argument spec and documentation.

    Args:
        address: the full OSC address, ``/dexbridge/...``.
        arg_types: the argument spec (see the module docstring).
        args_doc: the arguments named, as the manual shows them.
        doc: what the daemon does with it, or what the reply carries.
        files: ``"reads"`` or ``"writes"`` when its path argument names a file (only inside ``--files-dir``).
    """

    address: str
    arg_types: str
    args_doc: str
    doc: str
    files: str = ""
    slots: tuple[ArgSlot, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.files not in FILE_ACCESS:
            raise ValueError(f"route {self.address}: files = {self.files!r}, one of {FILE_ACCESS}")
        object.__setattr__(self, "slots", parse_arg_spec(self.arg_types))

    def check(self, args: Sequence[OscValue]) -> tuple[OscValue, ...]:
        """Check and convert arguments for this address (see :func:`check_args`)."""
        return check_args(self.address, self.slots, args)


def _table(*routes: Route) -> dict[str, Route]:
    return {route.address: route for route in routes}


OSC_ROUTES: dict[str, Route] = _table(
    Route(f"{PREFIX}/ping", "", "", "liveness check; answers `/dexbridge/pong`"),
    Route(f"{PREFIX}/status", "", "", "answers `/dexbridge/status` with the daemon's state as JSON"),
    Route(f"{PREFIX}/infer/file", "s", "s:path", "infer a voice from an audio file (WAV/FLAC/OGG)", files="reads"),
    Route(f"{PREFIX}/infer/takes", "s", "s:takes",
          "one voice from several takes of a sound, each scored at its own note and velocity: "
          "`\"soft.wav:60:40 loud.wav:60:120 low.wav:48:90\"` (files), or `upload:ID:NOTE:VELOCITY` for an upload "
          "whose chunks have all arrived (instead of `upload/end`); a missing note is the one nearest the take's pitch",
          files="reads"),
    Route(f"{PREFIX}/infer/blob", "bi", "b:float32-mono i:samplerate",
          "infer a voice from little-endian float32 mono samples in one datagram (UDP: at most 65 000 bytes)"),
    Route(f"{PREFIX}/upload/begin", "iii", "i:id i:total-bytes i:samplerate",
          "start a chunked upload of float32 mono samples (at most 16 MB; abandoned after 30 s without a chunk)"),
    Route(f"{PREFIX}/upload/chunk", "iib", "i:id i:offset b:bytes",
          "one chunk of an upload; `offset` must equal the bytes received so far"),
    Route(f"{PREFIX}/upload/end", "i", "i:id", "finish an upload (every byte received) and infer a voice from it"),
    Route(f"{PREFIX}/capture", "f", "f:seconds", "record the audio input for `seconds` (0.1-10) and infer a voice from it"),
    Route(f"{PREFIX}/latent", "f*", "f... (latent size)", "set the latent vector (exactly the model's latent size) and decode it"),
    Route(f"{PREFIX}/macro", "if", "i:index f:value",
          "set macro `index` (0-based) to `value` in -1..1 around the current voice, keeping its structure (algorithm, "
          "oscillator modes and frequencies, operators on or off); answers `/dexbridge/macro` with the macro's name"),
    Route(f"{PREFIX}/macros", "", "", "answers `/dexbridge/macros` with the macros' names"),
    Route(f"{PREFIX}/morph/slot", "i(si)", "i:slot s:source",
          "fill morph slot 0-3 (A B C D) from a bank index (`5` or `\"5\"`), a `.syx` path, `current`, "
          "or `midi` (the next voice dump on MIDI in)", files="reads"),
    Route(f"{PREFIX}/morph", "f[f]", "f:x [f:y]",
          "morph position, 0..1: x alone interpolates slot A -> B; x and y morph the four corners A B C D"),
    Route(f"{PREFIX}/voice/load", "s[i]", "s:path [i:index]",
          "make voice `index` (default 0) of a `.syx` file the current voice (voice loads and program changes sent back to "
          "back take effect in the order sent)", files="reads"),
    Route(f"{PREFIX}/voice/save", "s", "s:path",
          "write the current voice as a single voice dump (`.syx`, or `.mid` with the SysEx)", files="writes"),
    Route(f"{PREFIX}/bank/load", "s", "s:path", "load a 32-voice bank (`.syx`) for program changes and morph slots",
          files="reads"),
    Route(f"{PREFIX}/bank/save", "s", "s:path", "write the loaded bank as a 32-voice bulk dump (`.syx` or `.mid`)",
          files="writes"),
    Route(f"{PREFIX}/dump", "s[s]", "s:path [s:what]",
          "DAW dump: the current voice (`what` = `voice`, default), or the four morph slots as a bank (`slots`), "
          "to `.syx` or `.mid` (atomic write)", files="writes"),
    Route(f"{PREFIX}/program", "i", "i:program", "make voice `program` (0-31) of the loaded bank the current voice"),
    Route(f"{PREFIX}/note", "i[i][f]", "i:note [i:velocity] [f:seconds]",
          "audition the current voice on the embedded synth (velocity 100, 1 s by default)"),
    Route(f"{PREFIX}/monitor", "[f]", "[f:seconds]",
          "hear everything the daemon says to any client, as `/dexbridge/said`, for the seconds given (60 by default, "
          "1..3600; send it again to stay subscribed; `dexbridge monitor` does); answers `/dexbridge/done`"),
    Route(f"{PREFIX}/resync", "", "",
          "send the whole current voice again the way the active modes do (a dump, all 155 parameters, every "
          "learned CC, every host parameter) for a synth that restarted or lost messages; answers `/dexbridge/done`, "
          "or `/dexbridge/error` when the named `--midi-out` port is not connected (the voice reached no synth)"),
    Route(f"{PREFIX}/mode", "s*", "s:mode...", "set the MIDI output modes: any of `param`, `dump`, `cc`, `osc` (none = silent)"),
)

OSC_REPLIES: dict[str, Route] = _table(
    Route(f"{PREFIX}/pong", "", "", "answer to `/dexbridge/ping`"),
    Route(f"{PREFIX}/status", "s", "s:json", "the daemon's state: modes, ports, voice name, slots, counters"),
    Route(f"{PREFIX}/voice", "b", "b:155-byte VCED", "the whole current voice, after every new voice"),
    Route(f"{PREFIX}/param", "ii", "i:vced-index i:value", "one changed voice parameter (VCED index 0-155)"),
    Route(f"{PREFIX}/host_param", "sf", "s:dexed-parameter-name f:normalised-value",
          "one changed parameter as Dexed's host parameter (for Max `vst~`), in `osc` mode"),
    Route(f"{PREFIX}/inferred", "ffsffssf",
          "f:input-f0-hz f:level-db s:backend f:voice-f0-hz f:cents s:pitch s:source f:distance",
          "the answer to an inference, once its search ends: the recording's f0 and the voice's (0 = unpitched), "
          "the cents between them, `pitched` or which side has no pitch, where the voice came from (`network`, "
          "`library: NAME (SOURCE)`, `... + search`) and its distance to the recording as the search scores it "
          "(log-spectral MAE + log-mel dB / 20 by default; 0 = identical)"),
    Route(f"{PREFIX}/better", "sffi", "s:source f:distance f:cents i:renders",
          "while a search runs: a better voice was found and sent (its `/dexbridge/voice` follows)"),
    Route(f"{PREFIX}/done", "ss", "s:address s:detail", "a file request finished (`voice/save`, `bank/save`, `dump`, ...)"),
    Route(f"{PREFIX}/macro", "ifs", "i:index f:value s:name",
          "a macro was set (to its sender): its index, value and name, what it does to the sound (`brightness`: "
          "+1 is brighter)"),
    Route(f"{PREFIX}/macros", "s*", "s:name...", "every macro's name, macro 0 first"),
    Route(f"{PREFIX}/notice", "s", "s:message",
          "a request waits (not an error): a planned morph holds at the current voice until its path is planned"),
    Route(f"{PREFIX}/error", "s", "s:message", "anything refused: the message names the value, the valid range and the fix"),
    Route(f"{PREFIX}/said", "ss(sifb)*", "s:client s:address any:arguments",
          "to a `/dexbridge/monitor` subscriber: a reply the daemon sent one client (`HOST:PORT`), with its own arguments"),
)

OSC_ANSWERS: dict[str, str] = {
    f"{PREFIX}/ping": f"{PREFIX}/pong",
    f"{PREFIX}/status": f"{PREFIX}/status",
    f"{PREFIX}/macros": f"{PREFIX}/macros",
    **{f"{PREFIX}/{name}": f"{PREFIX}/inferred" for name in ("infer/file", "infer/takes", "infer/blob",
                                                                              "upload/end", "capture")},
    **{f"{PREFIX}/{name}": f"{PREFIX}/done" for name in ("morph/slot", "voice/save", "bank/load", "bank/save", "dump",
                                                          "note", "mode", "monitor")},
    **{f"{PREFIX}/{name}": f"{PREFIX}/voice" for name in ("voice/load", "program")},
}
"""The reply that completes a request, for a client waiting on it (``dexbridge send``); a request not
listed (a control: morph, macro, latent; an upload chunk) answers only with the voices it makes, or an
error. The sender hears ``/dexbridge/voice``: it is among the clients voices are streamed to."""


Bound = TypeVar("Bound")


def check_bound(bound: Mapping[str, Bound]) -> dict[str, Bound]:
    """``bound`` (address -> what serves it) checked against ``OSC_ROUTES``: every route bound, nothing else.

    Raises:
        LookupError: a route without a handler, or a handler for an address not in the namespace (a
            programming error, caught at startup).
    """
    missing, extra = sorted(set(OSC_ROUTES) - set(bound)), sorted(set(bound) - set(OSC_ROUTES))
    if missing or extra:
        raise LookupError(f"OSC routes without a handler: {missing}; handlers for no route: {extra}")
    return dict(bound)


def render_namespace_table() -> str:
    """The manual's OSC namespace table (Markdown), generated from ``OSC_ROUTES`` and ``OSC_REPLIES``."""
    lines = ["| direction | address | arguments | files | what it does |", "|---|---|---|---|---|"]
    for direction, table in (("in", OSC_ROUTES), ("reply", OSC_REPLIES)):
        for route in table.values():
            args = f"`{route.args_doc}`" if route.args_doc else "-"
            files = f"**{route.files}** in `--files-dir`" if route.files else "-"
            lines.append(f"| {direction} | `{route.address}` | {args} | {files} | {route.doc} |")
    return "\n".join(lines) + "\n"
