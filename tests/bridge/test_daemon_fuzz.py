"""A seeded mutator against a real daemon over UDP and TCP: thousands of broken and hostile packets,
and after each batch the daemon answers a ping within 100 ms and has logged no traceback."""

from __future__ import annotations

import logging
import random
import struct
import time
from pathlib import Path

import pytest
from daemon_harness import daemon_settings, run_daemon
from osc_client import OscClient, OscTcpClient, build

from engine.runtime import Engine

PING_WITHIN_S = 1.0
"""A frozen daemon never answers; a live one answers within milliseconds (20-50 ms measured while the
machine runs other work), so a second tells the two apart without timing the machine."""
BATCHES, PER_BATCH = 24, 100
# Requests the daemon answers on the loop at once: work handed to threads (inference, morph planning)
# would make the ping's latency measure that work rather than the cost of bad packets.
_SEEDS = [
    build("/dexbridge/ping"), build("/dexbridge/status"), build("/dexbridge/macro", 1, 0.25),
    build("/dexbridge/voice/load", "no-such.syx"), build("/dexbridge/infer/file", "missing.wav"),
    build("/dexbridge/infer/takes", "x.wav:60:100,y.wav"), build("/dexbridge/upload/begin", 7, 4, 22050),
    build("/dexbridge/upload/chunk", 7, 0, b"\0\0\0\0"), build("/dexbridge/upload/end", 7), build("/dexbridge/dump"),
    build("/dexbridge/mode", "osc"), build("/dexbridge/bank/load", "none.syx"),
]


def _bundle(rng: random.Random, elements: list[bytes], depth: int = 0) -> bytes:
    tag = rng.choice([1, 0, rng.getrandbits(64), int((time.time() + 2_208_988_800 + rng.uniform(-5, 20)) * 2**32)])
    body = b"".join(struct.pack(">i", len(e)) + e for e in elements)
    packet = b"#bundle\0" + tag.to_bytes(8, "big") + body
    if depth < 6 and rng.random() < 0.3:
        packet = _bundle(rng, [packet], depth + 1)
    return packet


def _mutate(rng: random.Random, packet: bytes) -> bytes:
    data = bytearray(packet)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        if choice < 0.25 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif choice < 0.45 and len(data) >= 4:  # a size or count word: negative, huge, off by a little
            at = rng.randrange(0, len(data) - 3) & ~3
            data[at:at + 4] = struct.pack(">i", rng.choice([-4, -1, 0, 3, 2**31 - 1, len(data), rng.randint(-99, 99)]))
        elif choice < 0.6:
            del data[rng.randrange(len(data) + 1):]
        elif choice < 0.75:
            data += rng.randbytes(rng.randint(1, 64))
        elif choice < 0.9:
            data = bytearray(_bundle(rng, [bytes(data)] * rng.randint(1, 40)))
        else:
            data = bytearray(rng.randbytes(rng.randint(0, 512)))
    return bytes(data)


def _packets(rng: random.Random, count: int) -> list[bytes]:
    return [_mutate(rng, rng.choice(_SEEDS)) or b"\0" for _ in range(count)]


async def _ping_time(client: OscClient) -> float:
    sent = time.monotonic()
    client.send("/dexbridge/ping")
    await client.until("/dexbridge/pong")
    return time.monotonic() - sent


async def test_thousands_of_mutated_packets_over_udp_and_tcp(tiny_engine: Engine, tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(20261204)
    settings = daemon_settings(mode=("osc",), files_dir=(tmp_path,))
    with caplog.at_level(logging.INFO):
        async with run_daemon(settings, tiny_engine) as daemon:
            udp = await OscClient().open("127.0.0.1", daemon.osc_port)
            pinger = await OscClient().open("127.0.0.1", daemon.osc_port)
            for seed in _SEEDS:  # each handler's first call imports what it needs: not a bad packet's cost
                pinger.send_raw(seed)
            await pinger.settle()
            slowest = 0.0
            for batch in range(BATCHES):
                if batch % 2:
                    tcp = await OscTcpClient().open("127.0.0.1", daemon.osc_port)
                    for packet in _packets(rng, PER_BATCH):
                        tcp.send_raw(packet)
                    tcp.close()
                else:
                    for packet in _packets(rng, PER_BATCH):
                        udp.send_raw(packet)
                pinger.take_all()
                took = await _ping_time(pinger)
                slowest = max(slowest, took)
            assert daemon.server is not None
            stats = dict(daemon.server.stats)
            udp.close()
            pinger.close()
    assert slowest < PING_WITHIN_S, f"a ping after a batch took {slowest * 1000:.0f} ms"
    assert stats["errors"] > BATCHES * PER_BATCH // 2, stats  # most were refused, each one answered
    tracebacks = [record for record in caplog.records if record.exc_info or record.levelno >= logging.ERROR]
    assert not tracebacks, [record.getMessage() for record in tracebacks[:3]]
