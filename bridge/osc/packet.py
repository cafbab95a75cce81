"""OSC 1.0 packets: a bounded decoder (one pass over the bytes, limits checked before any work) and
the one message encoder (the daemon, its client, the bench, the soak and the tests build messages with it).

python-osc's own parser is made for trusted peers: a bundle element of negative size sends it
into an endless loop, it copies the rest of the packet for every bundle element and every blob
(quadratic in the packet's size), and it logs a warning per element it cannot identify. The
daemon listens to anyone on the stage network, so it decodes packets here instead: every size is
checked against the bytes that are left, nesting and the number of elements are capped, and a
packet is either decoded whole or refused whole, with a reason in words, in time linear in its
size.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from models.errors import DexbridgeError

BUNDLE_PREFIX = b"#bundle\0"
IMMEDIATELY = 0.0  # the time of a message to run on arrival (time tag 1, or a plain message)
MAX_DEPTH = 4  # bundles inside bundles
MAX_ELEMENTS = 128  # bundle elements (messages and bundles) in one packet
SUPPORTED_TYPES = "ifdhsbTFNmt"  # the type letters decoded; any other refuses the message
_NTP_TO_UNIX_S = 2_208_988_800  # seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix)
_INT32 = struct.Struct(">i")
_FIXED = {"i": struct.Struct(">i"), "f": struct.Struct(">f"), "d": struct.Struct(">d"), "h": struct.Struct(">q")}
_CONSTANTS = {"T": True, "F": False, "N": None}


class OscPacketError(DexbridgeError, ValueError):
    """Bytes that are not an OSC packet, or one over the daemon's limits; the message says why and where."""


class OscTypeError(OscPacketError):
    """A well-formed message with an argument type the daemon does not take."""


@dataclass(frozen=True)
class OscTimeTag:
    """An OSC time tag sent as an argument (type ``t``): decoded so a refusal can name it; no route takes one."""

    seconds: float


OscArg = str | int | float | bytes | bool | None | tuple[int, ...] | OscTimeTag


@dataclass(frozen=True)
class DecodedMessage:
    """One message of a packet: when to run it (Unix time; :data:`IMMEDIATELY` = now), its address and arguments."""

    time: float
    address: str
    args: tuple[OscArg, ...]


def decode_packet(data: bytes, *, max_depth: int = MAX_DEPTH, max_elements: int = MAX_ELEMENTS) -> list[DecodedMessage]:
    """Decode one OSC packet (a message or a bundle) in one pass.

    Args:
        data: the datagram, or one TCP frame.
        max_depth: how deep bundles may nest.
        max_elements: how many bundle elements one packet may hold.

    Returns:
        Its messages in packet order, each with the time tag of the bundle that holds it.

    Raises:
        OscPacketError: not an OSC packet, a size that does not fit, an argument type not
            supported, too deep or too many elements; nothing of the packet is returned.
    """
    data = bytes(data)
    if data.startswith(BUNDLE_PREFIX):
        decoder = _BundleDecoder(data, max_depth, max_elements)
        decoder.bundle(0, len(data), 1)
        return decoder.messages
    if data[:1] == b"/":
        address, args = decode_message(data, 0, len(data))
        return [DecodedMessage(IMMEDIATELY, address, args)]
    raise OscPacketError("neither a message (starts with '/') nor a bundle (starts with '#bundle')")


def encode_message(address: str, args: Sequence[OscArg], types: str | None = None) -> bytes:
    """Build one OSC message: the one encoder of the daemon, its clients, the bench, the soak and the tests.

    Args:
        address: the OSC address.
        args: the arguments.
        types: one type letter per argument (``"ii"``, ``"sf"``, ``"b"``; the last letter repeats), of
            i, f, d, h, s, b, T, F, N; ``None`` infers each from its value as python-osc's builder does: str s,
            bytes b, True T, False F, None N, int i (h past 32 bits), float f.

    Raises:
        ValueError: a letter not listed, a value that does not fit its type, or one no letter is inferred for.
    """
    if types is None:
        letters = "".join(_letter(address, value) for value in args)
    else:
        letters = "".join(types[min(position, len(types) - 1)] for position in range(len(args)))
    parts = [_encode_string(address), _encode_string("," + letters)]
    try:
        for letter, value in zip(letters, args, strict=True):
            if letter in _FIXED:
                parts.append(_FIXED[letter].pack(value))
            elif letter == "s":
                parts.append(_encode_string(str(value)))
            elif letter == "b":
                blob = bytes(value)  # type: ignore[arg-type]
                parts.append(_INT32.pack(len(blob)) + blob + b"\0" * (-len(blob) % 4))
            elif letter not in _CONSTANTS:
                raise ValueError(f"{address}: type letter {letter!r} cannot be sent (use i, f, s, b)")
    except struct.error as exc:
        raise ValueError(f"{address}: {exc}") from None
    return b"".join(parts)


def _letter(address: str, value: OscArg) -> str:
    """The type letter python-osc's builder infers for ``value``."""
    if isinstance(value, str):
        return "s"
    if isinstance(value, bytes):
        return "b"
    if isinstance(value, bool) or value is None:
        return {True: "T", False: "F", None: "N"}[value]
    if isinstance(value, int):
        return "h" if value.bit_length() > 31 else "i"
    if isinstance(value, float):
        return "f"
    raise ValueError(f"{address}: no OSC type for {type(value).__name__} {value!r}")


def _encode_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return raw + b"\0" * (4 - len(raw) % 4)


def decode_message(data: bytes, start: int, end: int) -> tuple[str, tuple[OscArg, ...]]:
    """Decode the message in ``data[start:end]``: its address and arguments.

    Raises:
        OscPacketError: a string without its NUL, a size past the end, an unsupported type letter.
    """
    address, index = _string(data, start, end, "address")
    if index >= end:
        return address, ()  # OSC 1.0 allows a message without a type tag string
    tags, index = _string(data, index, end, "type tag string")
    if not tags.startswith(","):
        raise OscPacketError(f"{address}: type tag string {tags[:16]!r} does not start with ','")
    unknown = set(tags[1:]) - set(SUPPORTED_TYPES)
    if unknown:
        raise OscTypeError(f"{address}: argument type(s) {''.join(sorted(unknown))!r} not supported (use i, f, s, b)")
    args: list[OscArg] = []
    for letter in tags[1:]:
        if letter in _FIXED:
            fixed = _FIXED[letter]
            _need(index + fixed.size, end, address, letter)
            args.append(fixed.unpack_from(data, index)[0])
            index += fixed.size
        elif letter == "s":
            text, index = _string(data, index, end, f"{address}: string argument")
            args.append(text)
        elif letter == "b":
            _need(index + 4, end, address, letter)
            size = _INT32.unpack_from(data, index)[0]
            if size < 0 or index + 4 + size > end:
                raise OscPacketError(f"{address}: blob of {size} bytes with {end - index - 4} bytes left in the message")
            args.append(data[index + 4:index + 4 + size])
            index += 4 + size + (-size % 4)
        elif letter == "m":
            _need(index + 4, end, address, letter)
            args.append(tuple(data[index:index + 4]))
            index += 4
        elif letter == "t":
            _need(index + 8, end, address, letter)
            args.append(OscTimeTag(_unix_time(data, index)))
            index += 8
        else:
            args.append(_CONSTANTS[letter])
    return address, tuple(args)


class _BundleDecoder:
    """Walks nested bundles once, counting elements against the packet's limits."""

    def __init__(self, data: bytes, max_depth: int, max_elements: int) -> None:
        self.data = data
        self.max_depth = max_depth
        self.max_elements = max_elements
        self.elements = 0
        self.messages: list[DecodedMessage] = []

    def bundle(self, start: int, end: int, depth: int) -> None:
        if depth > self.max_depth:
            raise OscPacketError(f"bundles nested {depth} deep at byte {start}; at most {self.max_depth}")
        index = start + len(BUNDLE_PREFIX)
        if index + 8 > end:
            raise OscPacketError(f"bundle at byte {start} ends before its time tag")
        time = _unix_time(self.data, index)
        index += 8
        while index < end:
            if index + 4 > end:
                raise OscPacketError(f"bundle element at byte {index}: {end - index} bytes left, too few for its size")
            size = _INT32.unpack_from(self.data, index)[0]
            index += 4
            if size <= 0 or size % 4 or index + size > end:
                raise OscPacketError(f"bundle element at byte {index - 4} declares {size} bytes with {end - index} left "
                                     "(an element's size is a positive multiple of 4 that fits the bundle)")
            self.elements += 1
            if self.elements > self.max_elements:
                raise OscPacketError(f"more than {self.max_elements} bundle elements in one packet; send fewer per bundle")
            if self.data.startswith(BUNDLE_PREFIX, index):
                self.bundle(index, index + size, depth + 1)
            elif self.data[index] == ord("/"):
                address, args = decode_message(self.data, index, index + size)
                self.messages.append(DecodedMessage(time, address, args))
            else:
                raise OscPacketError(f"bundle element at byte {index - 4} is neither a message nor a bundle")
            index += size


def _string(data: bytes, start: int, end: int, what: str) -> tuple[str, int]:
    """An OSC string (NUL-terminated, padded to 4 bytes) within ``[start, end)`` and the index after it."""
    nul = data.find(b"\0", start, end)
    if nul < 0:
        raise OscPacketError(f"{what} at byte {start} has no terminating NUL before byte {end}")
    after = nul + 1 + (-(nul + 1 - start) % 4)
    if after > end:
        raise OscPacketError(f"{what} at byte {start}: padding runs past the end (byte {end})")
    try:
        return data[start:nul].decode("utf-8"), after
    except UnicodeDecodeError:
        raise OscPacketError(f"{what} at byte {start} is not UTF-8 text") from None


def _need(index: int, end: int, address: str, letter: str) -> None:
    if index > end:
        raise OscPacketError(f"{address}: the message ends inside its '{letter}' argument")


def _unix_time(data: bytes, index: int) -> float:
    """The Unix time of the NTP time tag at ``index``; :data:`IMMEDIATELY` for the tag 1 ("now")."""
    seconds, fraction = struct.unpack_from(">II", data, index)
    if seconds == 0 and fraction == 1:
        return IMMEDIATELY
    return seconds - _NTP_TO_UNIX_S + fraction / 2**32
