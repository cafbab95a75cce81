"""What a soak's clients hear and send besides requests: the replies they wait for, hostile datagrams, a free port."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any


class Replies:
    """An OSC client's listener: the futures waiting for an address, and how often the network said
    the daemon cannot be reached."""

    def __init__(self) -> None:
        self.waiting: dict[str, list[asyncio.Future[tuple[Any, ...]]]] = {}
        self.unreachable = 0

    def packet(self, arrived: float, messages: Sequence[tuple[str, tuple[Any, ...]]]) -> None:
        for address, args in messages:
            if address == "/dexbridge/error" and str(args[0]).startswith("MIDI out:"):
                continue  # the port flap, told to every client: no request's answer
            for future in self.waiting.pop(address, []):
                if not future.done():
                    future.set_result(args)

    def failed(self, error: OSError) -> None:
        self.unreachable += 1

    def expect(self, address: str) -> asyncio.Future[tuple[Any, ...]]:
        future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(address, []).append(future)
        return future

    def forget(self, *futures: asyncio.Future[tuple[Any, ...]]) -> None:
        """Stop waiting with these futures (their request is settled)."""
        for address, waiting in list(self.waiting.items()):
            self.waiting[address] = [future for future in waiting if future not in futures]


def _nested_bundles(depth: int) -> bytes:
    packet = b"/dexbridge/ping\0,\0\0\0"
    for _ in range(depth):
        packet = b"#bundle\0" + (1).to_bytes(8, "big") + len(packet).to_bytes(4, "big") + packet
    return packet


def _future_bundle(count: int) -> bytes:
    from bridge.osc.packet import encode_message

    message = encode_message("/dexbridge/status", (), "")
    ntp = int((time.time() + 2_208_988_800 + 5.0) * 2**32)
    return b"#bundle\0" + ntp.to_bytes(8, "big") + (len(message).to_bytes(4, "big") + message) * count


def _hostile_datagrams() -> list[tuple[str, bytes]]:
    """What a hostile or clumsy client sends: (name, bytes); the TCP ones are the first bytes sent."""
    from bridge.osc.packet import encode_message

    empty = b"#bundle\0" + (1).to_bytes(8, "big")
    return [
        ("negative element", bytes.fromhex("2362756e646c65000000000000000001fffffffc")),
        ("64 KB of empty elements", empty + ((16).to_bytes(4, "big") + empty) * 3_000),
        ("nested 20 deep", _nested_bundles(20)),
        ("future-dated bundle", _future_bundle(100)),
        ("time tag argument", b"/dexbridge/voice/load\0\0\0,t\0\0" + bytes(8)),
        ("superscript digit", encode_message("/dexbridge/infer/takes", ["x.wav:\u00b2"], "s")),
        ("5 000-digit upload id", encode_message("/dexbridge/infer/takes", ["upload:" + "9" * 5_000], "s")),
        ("newline in a file name", encode_message("/dexbridge/voice/load", ["x.syx\ndaemon.ready forged"], "s")),
        ("idle TCP", b""),
        ("half-sent TCP frame", (1 << 20).to_bytes(4, "big") + bytes(4096)),
    ]


HOSTILE_DATAGRAMS = _hostile_datagrams()


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
