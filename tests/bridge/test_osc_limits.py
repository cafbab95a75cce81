"""What a hostile or clumsy client can send the OSC server, through real UDP and TCP sockets: every
packet costs time linear in its size, every resource a client can hold is capped, and the server
answers the next ping at once."""

from __future__ import annotations

import asyncio
import logging
import re
import struct
import time
from collections.abc import AsyncIterator

import pytest
from osc_client import OscClient, OscTcpClient, build
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message import OscMessage

from bridge.osc import server as osc_server
from bridge.osc import tcp_frames
from bridge.osc.namespace import OSC_ROUTES
from bridge.osc.packet import MAX_ELEMENTS, OscPacketError, decode_packet
from bridge.osc.server import OscRequest, OscServer

PING_WITHIN_S = 0.1
_EMPTY_BUNDLE = b"#bundle\0" + (1).to_bytes(8, "big")


def _bundle_of(element: bytes, count: int) -> bytes:
    return _EMPTY_BUNDLE + (struct.pack(">i", len(element)) + element) * count


class Pinged:
    """A handler that answers ping and counts everything else."""

    def __init__(self) -> None:
        self.server: OscServer | None = None
        self.requests: list[OscRequest] = []

    def __call__(self, request: OscRequest) -> None:
        assert self.server is not None
        if request.address == "/dexbridge/ping":
            self.server.reply(request.peer, "/dexbridge/pong")
        else:
            self.requests.append(request)


@pytest.fixture
async def server() -> AsyncIterator[OscServer]:
    handler = Pinged()
    served = OscServer(OSC_ROUTES, handler, max_frame=16 * 1024 * 1024)
    handler.server = served
    await served.start("127.0.0.1", 0)
    yield served
    await served.close()


async def _answers_ping(client: OscClient) -> float:
    client.take_all()
    sent = time.monotonic()
    client.send("/dexbridge/ping")
    await client.until("/dexbridge/pong")
    return time.monotonic() - sent


async def test_a_bundle_element_of_negative_size_is_refused(server: OscServer) -> None:
    client = await OscClient().open("127.0.0.1", server.port)
    client.send_raw(bytes.fromhex("2362756e646c65000000000000000001fffffffc"))
    (text,) = await client.until("/dexbridge/error")
    assert "bundle element at byte 16 declares -4 bytes with 0 left" in text
    assert await _answers_ping(client) < PING_WITHIN_S
    client.close()


@pytest.mark.parametrize(("element", "message"), [
    (_EMPTY_BUNDLE, f"more than {MAX_ELEMENTS} bundle elements in one packet"),
    (build("/dexbridge/ping"), f"more than {MAX_ELEMENTS} bundle elements in one packet"),
])
async def test_a_megabyte_tcp_frame_of_tiny_elements_is_refused_at_once(server: OscServer, element: bytes,
                                                                       message: str) -> None:
    """1 MB of empty bundle elements once blocked the loop 14 s (python-osc copies the rest per element)."""
    frame = _bundle_of(element, (1 << 20) // (len(element) + 4))
    client = await OscTcpClient().open("127.0.0.1", server.tcp_port or 0)
    sent = time.monotonic()
    client.send_raw(frame)
    (text,) = await client.until("/dexbridge/error")
    assert message in text
    assert time.monotonic() - sent < 1.0
    assert await _answers_ping(client) < PING_WITHIN_S
    client.close()


def test_decoding_is_linear_in_the_packet_size() -> None:
    """Many small elements, and many blobs in one message: the work grows with the bytes, not their square."""
    seconds = {}
    for count in (4_000, 64_000):
        bundle = _bundle_of(_EMPTY_BUNDLE, count)
        blobs = b"/dexbridge/x\0\0\0\0," + b"b" * count + b"\0" * (4 - count % 4 or 4) + struct.pack(">i", 1) * 0
        blobs += (struct.pack(">i", 0)) * count
        started = time.perf_counter()
        with pytest.raises(OscPacketError):
            decode_packet(bundle, max_elements=count - 1)  # walked to the end, refused at the last element
        assert len(decode_packet(blobs)[0].args) == count
        seconds[count] = time.perf_counter() - started
    assert seconds[64_000] < 16 * 4 * max(seconds[4_000], 1e-3)  # 16x the bytes; quadratic would be 256x


async def test_garbage_floods_log_a_few_lines_per_client(server: OscServer, caplog: pytest.LogCaptureFixture) -> None:
    client = await OscClient().open("127.0.0.1", server.port)
    with caplog.at_level(logging.WARNING, logger="bridge.osc.server"):
        for index in range(2_000):
            client.send_raw(b"\xff garbage %d" % index)
            if index % 200 == 0:
                await asyncio.sleep(0.01)
        assert await _answers_ping(client) < 1.0
    refused = [record for record in caplog.records if record.getMessage().startswith("osc.refused")]
    assert len(refused) == osc_server.REFUSAL_LOG_BURST
    assert server.stats["errors"] == 2_000  # each one still counted and answered
    client.close()


async def test_future_dated_messages_are_capped(server: OscServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(osc_server, "MAX_SCHEDULED", 3)
    client = await OscClient().open("127.0.0.1", server.port)
    bundle = OscBundleBuilder(time.time() + 5)
    for _ in range(5):
        bundle.add_content(OscMessage(build("/dexbridge/status")))
    client.send_raw(bundle.build().dgram)
    errors = [await client.until("/dexbridge/error") for _ in range(2)]
    assert all("3 future-dated messages already wait for their time tags" in text for (text,) in errors)
    client.close()


async def test_a_time_tag_argument_is_named_in_the_refusal(server: OscServer, caplog: pytest.LogCaptureFixture) -> None:
    client = await OscClient().open("127.0.0.1", server.port)
    client.send_raw(b"/dexbridge/voice/load\0\0\0,t\0\0" + struct.pack(">II", 3_900_000_000, 0))  # python-osc cannot build it
    (text,) = await client.until("/dexbridge/error")
    assert text == "/dexbridge/voice/load: argument 1 is an OSC time tag; expected a string"
    assert "osc.failed" not in caplog.text
    client.close()


async def test_an_idle_tcp_connection_is_closed(server: OscServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tcp_frames, "TCP_IDLE_TIMEOUT_S", 0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
    assert await asyncio.wait_for(reader.read(), 2.0) == b""  # closed by the server
    writer.close()


async def test_a_half_sent_frame_is_dropped_and_its_bytes_released(server: OscServer,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tcp_frames, "TCP_FRAME_TIMEOUT_S", 0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
    writer.write(struct.pack(">I", 15 << 20) + b"\0" * 1024)  # a 15 MB frame that never arrives
    await writer.drain()
    await asyncio.sleep(0.1)
    assert server._buffer.held == 15 << 20
    assert await asyncio.wait_for(reader.read(), 2.0) == b""
    assert server._buffer.held == 0
    writer.close()


async def test_frames_in_flight_share_one_byte_budget(server: OscServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server._buffer, "limit", 1 << 20)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
    writer.write(struct.pack(">I", 700_000) + b"\0" * 1024)  # announces 700 KB, sends 1 KB of it
    await writer.drain()
    await asyncio.sleep(0.1)
    second = await OscTcpClient().open("127.0.0.1", server.tcp_port or 0)
    second.send_raw(build("/dexbridge/infer/blob", b"\0" * 600_000, 22050))
    (text,) = await second.until("/dexbridge/error")
    assert re.match(r"TCP frame refused: \d+ B of unfinished frames are being received and \d+ B more would pass 1048576 B", text)
    await asyncio.wait_for(second.closed.wait(), 2.0)
    writer.close()
    await asyncio.sleep(0.1)
    third = await OscTcpClient().open("127.0.0.1", server.tcp_port or 0)
    assert await _answers_ping(third) < 1.0  # the budget is back once the first connection went
    second.close()
    third.close()


async def test_tcp_connections_are_capped(server: OscServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(osc_server, "MAX_CONNECTIONS", 4)
    held = [await asyncio.open_connection("127.0.0.1", server.tcp_port) for _ in range(4)]
    await asyncio.sleep(0.1)
    extra = await OscTcpClient().open("127.0.0.1", server.tcp_port or 0)
    extra.send("/dexbridge/ping")
    (text,) = await extra.until("/dexbridge/error")
    assert text == "4 TCP connections are open (the most at once); connection closed, try again later"
    for _, writer in held:
        writer.close()
    await asyncio.sleep(0.1)
    again = await OscTcpClient().open("127.0.0.1", server.tcp_port or 0)
    assert await _answers_ping(again) < 1.0
    extra.close()
    again.close()


def test_the_manual_quotes_the_limits_the_code_enforces() -> None:
    from pathlib import Path

    from bridge.osc import packet

    text = (Path(__file__).parents[2] / "docs" / "network.md").read_text(encoding="utf-8")
    rows = {
        "bundle elements (messages and bundles) in one packet": f"{packet.MAX_ELEMENTS}",
        "bundles nested in bundles": f"{packet.MAX_DEPTH} deep",
        "a bundle's time tag": f"at most {osc_server.MAX_SCHEDULE_AHEAD_S:g} s ahead",
        "future-dated messages waiting for their time tags, all clients": f"{osc_server.MAX_SCHEDULED:,}".replace(",", " "),
        "open TCP connections": f"{osc_server.MAX_CONNECTIONS}, at most {osc_server.MAX_CONNECTIONS_PER_HOST} from one address",
        "a TCP connection that sends nothing between frames": f"closed after {tcp_frames.TCP_IDLE_TIMEOUT_S:g} s",
        "a TCP frame begun but not finished": f"dropped after {tcp_frames.TCP_FRAME_TIMEOUT_S:g} s",
        "bytes of unfinished TCP frames held at once, all connections": f"{tcp_frames.TCP_BUFFER_BYTES >> 20} MiB",
        "refusals written to the log per client address":
            f"{osc_server.REFUSAL_LOG_BURST} per {osc_server.REFUSAL_LOG_INTERVAL_S:g} s, then one line with the count",
    }
    for limit, value in rows.items():
        assert f"| {limit} | {value} |" in text, limit
