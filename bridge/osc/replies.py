"""The daemon's replies: each encoded with the types its spec declares (``OSC_REPLIES``), many packed into
immediate bundles, and the peers they go to (a UDP client, a TCP connection in its framing)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pythonosc import slip

from bridge.osc import tcp_frames
from bridge.osc.namespace import OSC_REPLIES, OscValue
from bridge.osc.packet import encode_message

BUNDLE_BYTES = 8192  # under any path MTU reassembly limit a client's stack will accept
_BUNDLE_HEADER = b"#bundle\0" + (1).to_bytes(8, "big")  # time tag 1 = immediately


class Peer(Protocol):
    """Where replies to one client go."""

    key: tuple[str, int]

    def send(self, dgram: bytes) -> None:
        """Send one encoded OSC packet."""


def encode_reply(address: str, *args: OscValue) -> bytes:
    """Build a reply listed in ``OSC_REPLIES`` with its declared types.

    Raises:
        OscArgumentError: the arguments do not fit the reply's spec (a bug in the caller).
    """
    route = OSC_REPLIES[address]
    checked = route.check(args)
    letters = "".join(slot.types[0] for slot in route.slots)
    return encode_message(address, checked, letters)


def encode_bundles(dgrams: Sequence[bytes], limit: int = 0) -> list[bytes]:
    """Pack encoded messages into immediate OSC bundles of at most ``limit`` bytes (``BUNDLE_BYTES``)."""
    limit = limit or BUNDLE_BYTES
    bundles: list[bytes] = []
    current = bytearray()
    for dgram in dgrams:
        element = tcp_frames.LENGTH.pack(len(dgram)) + dgram
        if current and len(current) + len(element) > limit:
            bundles.append(bytes(current))
            current = bytearray()
        if not current:
            current += _BUNDLE_HEADER
        current += element
    if current:
        bundles.append(bytes(current))
    return bundles


@dataclass(frozen=True)
class UdpPeer:
    """A UDP client: replies go to ``key`` (its host, and its port or the ``--reply-port``)."""

    key: tuple[str, int]
    transport: asyncio.DatagramTransport

    def send(self, dgram: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.sendto(dgram, self.key)


@dataclass(frozen=True)
class TcpPeer:
    """A TCP connection: replies go back on it, in its framing (SLIP or length prefix)."""

    key: tuple[str, int]
    writer: asyncio.StreamWriter
    slip_framing: bool

    def send(self, dgram: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(slip.encode(dgram) if self.slip_framing else tcp_frames.LENGTH.pack(len(dgram)) + dgram)
