"""OscClient over real UDP against a scripted peer that answers each request with given packets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from pythonosc.osc_message import OscMessage

from bridge.osc.client import DaemonRefusal, OscClient
from bridge.osc.replies import encode_reply

Script = Callable[[OscMessage], list[bytes]]


class _Peer(asyncio.DatagramProtocol):
    def __init__(self, script: Script) -> None:
        self.script = script
        self.received: list[tuple[str, list]] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        message = OscMessage(data)
        self.received.append((message.address, list(message.params)))
        assert self.transport is not None
        for packet in self.script(message):
            self.transport.sendto(packet, addr)


@pytest.fixture
async def peer_and_client(request: pytest.FixtureRequest) -> AsyncIterator[tuple[_Peer, OscClient]]:
    loop = asyncio.get_running_loop()
    transport, peer = await loop.create_datagram_endpoint(lambda: _Peer(request.param), local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    async with OscClient.connect("127.0.0.1", port) as client:
        yield peer, client
    transport.close()


def _pong_and_params(message: OscMessage) -> list[bytes]:
    if message.address == "/dexbridge/ping":
        return [b"not osc at all", encode_reply("/dexbridge/pong")]
    return [encode_reply("/dexbridge/param", 134, value) for value in range(3)]


def _refuse(message: OscMessage) -> list[bytes]:
    return [encode_reply("/dexbridge/error", f"{message.address}: x = 2.0, range 0..1")]


@pytest.mark.parametrize("peer_and_client", [_pong_and_params], indirect=True)
async def test_client_sends_typed_arguments_and_keeps_replies_in_order(peer_and_client: tuple[_Peer, OscClient]) -> None:
    peer, client = peer_and_client
    client.send("/dexbridge/ping")
    assert await client.next("/dexbridge/pong", timeout=5) == ()  # the garbage datagram before it is skipped
    client.send("/dexbridge/morph/slot", 1, "current")
    client.send("/dexbridge/morph", 0.25)
    replies = await client.drain("/dexbridge/param", quiet=0.2, timeout=5)
    assert [args for _, args in replies] == [(134, v) for v in range(3)] * 2
    assert [t for t, _ in replies] == sorted(t for t, _ in replies)
    assert peer.received == [("/dexbridge/ping", []), ("/dexbridge/morph/slot", [1, "current"]), ("/dexbridge/morph", [0.25])]
    with pytest.raises(TimeoutError):
        await client.next("/dexbridge/param", timeout=0.2)  # drained


@pytest.mark.parametrize("peer_and_client", [_refuse], indirect=True)
async def test_an_error_reply_raises_on_the_next_wait(peer_and_client: tuple[_Peer, OscClient]) -> None:
    _, client = peer_and_client
    client.send("/dexbridge/morph", 2.0)
    with pytest.raises(DaemonRefusal, match=r"/dexbridge/morph: x = 2.0, range 0..1"):
        await client.next("/dexbridge/voice", timeout=5)
    client.send("/dexbridge/morph", 3.0)
    await asyncio.sleep(0.1)
    with pytest.raises(DaemonRefusal, match="range 0..1"):
        await client.drain("/dexbridge/param", quiet=0.1, timeout=1)


async def test_until_passes_over_kept_replies_without_a_timer_each(monkeypatch: pytest.MonkeyPatch) -> None:
    """A morph leaves hundreds of replies kept; passing over them arms no timeout per reply (in asyncio's
    debug mode each timer records a stack, and a test's own step then held the loop over 100 ms)."""
    client = OscClient()
    for value in range(800):
        client.received(encode_reply("/dexbridge/param", 134, value % 100))
    client.received(encode_reply("/dexbridge/done", "/dexbridge/morph", ""))
    loop = asyncio.get_running_loop()
    timers = []
    real_call_at = loop.call_at
    monkeypatch.setattr(loop, "call_at", lambda *args, **kwargs: timers.append(args) or real_call_at(*args, **kwargs))
    assert await client.until("/dexbridge/done") == ["/dexbridge/morph", ""]
    assert timers == []
    with pytest.raises(TimeoutError, match="no /dexbridge/done reply in time"):
        await client.until("/dexbridge/done", timeout=0.05)
    assert len(timers) == 1
