"""The OSC transport through real UDP and TCP sockets: dispatch, refusals, time tags, framing."""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import struct
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from osc_client import OscClient, build
from pythonosc import slip
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message import OscMessage

from bridge.osc.namespace import OSC_ROUTES
from bridge.osc.replies import encode_reply
from bridge.osc.server import OscRequest, OscServer
from models.errors import DexbridgeError


class Recorder:
    """A handler: records requests, answers ping, raises on demand."""

    def __init__(self) -> None:
        self.requests: list[OscRequest] = []
        self.server: OscServer | None = None

    def __call__(self, request: OscRequest) -> None:
        self.requests.append(request)
        assert self.server is not None
        if request.address == "/dexbridge/ping":
            self.server.reply(request.peer, "/dexbridge/pong")
        elif request.address == "/dexbridge/voice/load" and request.args[0] == "bad":
            raise DexbridgeError("voice file 'bad' not found; give an existing .syx path")
        elif request.address == "/dexbridge/voice/load" and request.args[0] == "bug":
            raise RuntimeError("a bug")


@pytest.fixture
async def served() -> AsyncIterator[tuple[OscServer, Recorder, OscClient]]:
    recorder = Recorder()
    server = OscServer(OSC_ROUTES, recorder, max_frame=1 << 20)
    recorder.server = server
    await server.start("127.0.0.1", 0)
    client = await OscClient().open("127.0.0.1", server.port)
    yield server, recorder, client
    client.close()
    await server.close()


async def test_ping_pong_and_checked_arguments(served: tuple[OscServer, Recorder, OscClient]) -> None:
    server, recorder, client = served
    client.send("/dexbridge/ping")
    assert await client.expect("/dexbridge/pong") == []
    client.send("/dexbridge/morph", 1, 0.5, types="if")
    client.send("/dexbridge/ping")
    await client.expect("/dexbridge/pong")
    client.send("/dexbridge/macro", 1.0, 0.5, types="ff")  # as TouchOSC and Max's flonum send it
    client.send("/dexbridge/program", True)
    client.send("/dexbridge/ping")
    await client.expect("/dexbridge/pong")
    macro, program = recorder.requests[3], recorder.requests[4]
    assert macro.args == (1, 0.5) and type(macro.args[0]) is int
    assert program.args == (1,) and type(program.args[0]) is int
    morph = recorder.requests[1]
    assert morph.address == "/dexbridge/morph" and morph.args == (1.0, 0.5)
    assert isinstance(morph.args[0], float)
    assert server.stats["messages"] == 6 and server.stats["errors"] == 0


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (build("/dexbridge/morf", 0.5), "unknown address '/dexbridge/morf': not in the /dexbridge namespace "
                                        "(docs/osc.md); did you mean /dexbridge/morph?"),
        (build("/elsewhere"), "unknown address '/elsewhere'"),
        (build("/dexbridge/morph", "left"), "/dexbridge/morph: argument 1 is a string ('left'); expected a float"),
        (build("/dexbridge/morph", math.nan, types="f"), "/dexbridge/morph: argument 1 is nan; it must be a finite float"),
        (build("/dexbridge/latent", 0.0, math.inf, types="ff"), "/dexbridge/latent: argument 2 is inf"),
        (build("/dexbridge/macro", 1), "/dexbridge/macro: 1 argument, expected an int, then a float"),
        (build("/dexbridge/program", 3.5),
         "/dexbridge/program: argument 1 is a float (3.5); expected an int (a whole number: 3 or 3.0)"),
        (build("/dexbridge/infer/file", True), "/dexbridge/infer/file: argument 1 is an OSC true/false (T); expected a string"),
        (b"\x00\x01garbage\xff" * 3, "not an OSC packet (30 bytes starting"),
        (b"/dexbridge/ping\x00,ii\x00\x00\x00", "not an OSC packet"),
        (b"\xc0", "not an OSC packet (1 bytes"),
    ],
)
async def test_refusals_answer_error_and_keep_serving(served: tuple[OscServer, Recorder, OscClient], packet: bytes,
                                                      message: str, caplog: pytest.LogCaptureFixture) -> None:
    server, recorder, client = served
    client.send_raw(packet)
    (text,) = await client.expect("/dexbridge/error")
    assert message in text
    assert server.stats["errors"] == 1
    assert "osc.refused" in caplog.text
    client.send("/dexbridge/ping")
    await client.expect("/dexbridge/pong")
    assert [r.address for r in recorder.requests] == ["/dexbridge/ping"]


async def test_handler_errors(served: tuple[OscServer, Recorder, OscClient], caplog: pytest.LogCaptureFixture) -> None:
    server, _, client = served
    client.send("/dexbridge/voice/load", "bad")
    assert await client.expect("/dexbridge/error") == ["voice file 'bad' not found; give an existing .syx path"]
    with caplog.at_level(logging.ERROR):
        client.send("/dexbridge/voice/load", "bug")
        (text,) = await client.expect("/dexbridge/error")
    assert text == "/dexbridge/voice/load failed: internal error RuntimeError (see the daemon's log)"
    assert "a bug" in caplog.text  # the traceback is logged
    assert server.stats["errors.DexbridgeError"] == 1 and server.stats["errors.RuntimeError"] == 1


async def test_bundles_run_at_their_time_tag(served: tuple[OscServer, Recorder, OscClient]) -> None:
    _, recorder, client = served
    bundle = OscBundleBuilder(time.time() + 0.3)
    bundle.add_content(OscMessage(build("/dexbridge/ping")))
    client.send_raw(bundle.build().dgram)
    sent = time.monotonic()
    await client.expect("/dexbridge/pong")
    assert time.monotonic() - sent >= 0.25  # neither early nor (since we awaited) blocking the loop
    far = OscBundleBuilder(time.time() + 3600)
    far.add_content(OscMessage(build("/dexbridge/ping")))
    client.send_raw(far.build().dgram)
    (text,) = await client.expect("/dexbridge/error")
    assert "bundle time tag 3600.0 s ahead; at most 10 s" in text
    assert len(recorder.requests) == 1


async def test_reply_port_and_broadcast() -> None:
    recorder = Recorder()
    listener = await OscClient().open(None)  # receives replies only
    server = OscServer(OSC_ROUTES, recorder, reply_port=listener.local_port)
    recorder.server = server
    await server.start("127.0.0.1", 0, tcp=False)
    sender = await OscClient().open("127.0.0.1", server.port)
    try:
        assert server.tcp_port is None
        sender.send("/dexbridge/ping")
        await listener.expect("/dexbridge/pong")
        server.broadcast("/dexbridge/param", 134, 31)
        assert await listener.expect("/dexbridge/param") == [134, 31]
        assert sender.take_all() == []
    finally:
        sender.close()
        listener.close()
        await server.close()


async def test_any_port_moves_on_when_its_number_is_taken_for_tcp(monkeypatch: pytest.MonkeyPatch) -> None:
    """Port 0: the UDP number the system picks may be another program's TCP port; the server picks again."""
    loop = asyncio.get_running_loop()
    bind_udp = loop.create_datagram_endpoint
    squatters: list[socket.socket] = []

    async def udp_then_squat(*args: object, **kwargs: object) -> object:
        bound = await bind_udp(*args, **kwargs)  # type: ignore[arg-type]
        if not squatters:  # the first number picked: a real TCP listener takes it first
            squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            squatter.bind(("127.0.0.1", bound[0].get_extra_info("sockname")[1]))
            squatter.listen()
            squatters.append(squatter)
        return bound

    monkeypatch.setattr(loop, "create_datagram_endpoint", udp_then_squat)
    recorder = Recorder()
    server = OscServer(OSC_ROUTES, recorder)
    recorder.server = server
    await server.start("127.0.0.1", 0)
    monkeypatch.undo()
    client = await OscClient().open("127.0.0.1", server.port)
    try:
        assert server.port == server.tcp_port != squatters[0].getsockname()[1]
        client.send("/dexbridge/ping")
        await client.expect("/dexbridge/pong")
        reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        writer.write(slip.encode(build("/dexbridge/ping")))
        await writer.drain()
        assert await asyncio.wait_for(reader.read(1), 5.0)  # answered over TCP too
        writer.close()
    finally:
        client.close()
        squatters[0].close()
        await server.close()


def test_encode_reply_uses_declared_types() -> None:
    message = OscMessage(encode_reply("/dexbridge/host_param", "OP1 OUTPUT LEVEL", 1))
    assert message.address == "/dexbridge/host_param"
    assert message.params == ["OP1 OUTPUT LEVEL", 1.0] and isinstance(message.params[1], float)
    with pytest.raises(ValueError, match="/dexbridge/param: 1 argument, expected an int, then an int"):
        encode_reply("/dexbridge/param", 1)


async def _tcp_roundtrip(port: int, frames: bytes, use_slip: bool) -> list[OscMessage]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(frames)
    await writer.drain()
    writer.write_eof()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    if use_slip:
        return [OscMessage(slip.decode(slip.END + f + slip.END)) for f in data.split(slip.END) if f]
    messages = []
    while data:
        (size,) = struct.unpack("!I", data[:4])
        messages.append(OscMessage(data[4:4 + size]))
        data = data[4 + size:]
    return messages


@pytest.mark.parametrize("use_slip", [True, False])
async def test_tcp_carries_a_whole_snippet(served: tuple[OscServer, Recorder, OscClient], use_slip: bool) -> None:
    server, recorder, _ = served
    audio = np.linspace(-1, 1, 88_200, dtype=np.float32)  # 352 800 B: more than one datagram holds
    blob = build("/dexbridge/infer/blob", audio.tobytes(), 22050, types="bi")
    ping = build("/dexbridge/ping")
    garbage = b"\x00\x00garbage"

    def frame(packet: bytes) -> bytes:
        return slip.encode(packet) if use_slip else struct.pack("!I", len(packet)) + packet

    replies = await _tcp_roundtrip(server.tcp_port or 0, frame(blob) + frame(garbage) + frame(ping), use_slip)
    assert [m.address for m in replies] == ["/dexbridge/error", "/dexbridge/pong"]
    request = recorder.requests[0]
    assert request.address == "/dexbridge/infer/blob" and request.args[1] == 22050
    np.testing.assert_array_equal(np.frombuffer(request.args[0], dtype=np.float32), audio)


async def test_tcp_frame_over_the_limit_is_refused(served: tuple[OscServer, Recorder, OscClient]) -> None:
    server, _, client = served
    replies = await _tcp_roundtrip(server.tcp_port or 0, struct.pack("!I", (1 << 20) + 1) + b"\0" * 64, use_slip=False)
    assert [m.address for m in replies] == ["/dexbridge/error"]
    assert "TCP frame of 1048577 B > 1048576 B limit" in replies[0].params[0]
    client.send("/dexbridge/ping")  # UDP still served
    await client.expect("/dexbridge/pong")


async def test_after_stop_intake_requests_are_refused_but_replies_still_go_out(
        served: tuple[OscServer, Recorder, OscClient]) -> None:
    server, recorder, client = served
    client.send("/dexbridge/ping")
    await client.expect("/dexbridge/pong")
    (peer,) = [request.peer for request in recorder.requests]
    server.stop_intake()
    client.send("/dexbridge/ping")
    assert await client.expect("/dexbridge/error") == ["the daemon is shutting down: request not served"]
    server.reply(peer, "/dexbridge/pong")  # the answer of a request still in flight
    await client.expect("/dexbridge/pong")
    assert len(recorder.requests) == 1


class _ListPeer:
    """Collects what the server sends back (the transport is tested above with real sockets)."""

    key = ("fuzz", 0)

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, dgram: bytes) -> None:
        self.sent.append(dgram)


def _feed(data: bytes) -> tuple[Recorder, _ListPeer, OscServer]:
    async def run() -> tuple[Recorder, _ListPeer, OscServer]:
        recorder, peer = Recorder(), _ListPeer()
        server = OscServer(OSC_ROUTES, recorder)
        recorder.server = server
        server.receive(data, peer)
        await server.close()
        return recorder, peer, server

    return asyncio.run(run())


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=256))
def test_byte_soup_is_answered_never_raised(data: bytes) -> None:
    recorder, peer, server = _feed(data)
    answered = len(recorder.requests) + server.stats["errors"]
    assert answered >= 1 or data.startswith(b"#bundle"), f"{data!r} neither served nor refused"
    assert all(OscMessage(dgram).address in ("/dexbridge/error", "/dexbridge/pong") for dgram in peer.sent)


_ARGUMENT = st.one_of(st.integers(-2**31, 2**31 - 1), st.floats(width=32),
                      st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=8),
                      st.binary(min_size=1, max_size=8))  # what python-osc can encode: no NUL in strings, no empty blob


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(OSC_ROUTES)), st.lists(_ARGUMENT, max_size=4))
def test_any_arguments_are_checked_before_a_handler_sees_them(address: str, args: list) -> None:
    recorder, peer, server = _feed(OscMessage(build(address, *args)).dgram)
    if recorder.requests:
        (request,) = recorder.requests
        assert request.args == OSC_ROUTES[address].check(request.args)  # already checked and converted
        assert all(not isinstance(v, float) or math.isfinite(v) for v in request.args)
    else:
        assert server.stats["errors"] == 1 and OscMessage(peer.sent[0]).address == "/dexbridge/error"
