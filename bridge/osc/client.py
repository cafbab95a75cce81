"""A small asyncio OSC client for the daemon: send messages over UDP, wait for the replies.

It keeps every reply, by address and in arrival order, with its arrival time, so a caller can
wait for one answer (:meth:`OscClient.next`) or collect a stream (:meth:`OscClient.drain`); a
``/dexbridge/error`` reply makes the next wait raise :class:`DaemonRefusal`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from pythonosc.osc_packet import OscPacket, ParseError

from bridge.osc.namespace import OscValue
from bridge.osc.server import ERROR_ADDRESS, encode_message
from models.errors import DexbridgeError

logger = logging.getLogger(__name__)


class DaemonRefusal(DexbridgeError, RuntimeError):
    """The daemon answered ``/dexbridge/error``."""


Reply = tuple[float, tuple[OscValue, ...]]  # arrival time (time.monotonic) and arguments


class OscClient(asyncio.DatagramProtocol):
    """A UDP OSC client that keeps every reply, by address and in arrival order, with its arrival time.

    A ``/dexbridge/error`` reply makes the next wait raise :class:`DaemonRefusal`.
    """

    def __init__(self) -> None:
        self._transport: asyncio.DatagramTransport | None = None
        self._replies: dict[str, collections.deque[Reply]] = collections.defaultdict(collections.deque)
        self._arrived = asyncio.Event()

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, host: str, port: int) -> AsyncIterator[OscClient]:
        """A client whose datagrams go to ``host:port``; the daemon replies to its local port."""
        loop = asyncio.get_running_loop()
        _, client = await loop.create_datagram_endpoint(cls, remote_addr=(host, port))
        try:
            yield client
        finally:
            assert client._transport is not None
            client._transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            messages = [timed.message for timed in OscPacket(data).messages]
        except ParseError as exc:
            logger.warning("osc_client.unparsable_reply bytes=%d error=%s", len(data), exc)
            return
        now = time.monotonic()
        for message in messages:
            self._replies[message.address].append((now, tuple(message.params)))
        self._arrived.set()

    def send(self, address: str, *args: OscValue) -> None:
        """Send one message; Python str/int/float/bytes become OSC s/i/f/b."""
        assert self._transport is not None
        letters = {str: "s", int: "i", float: "f", bytes: "b"}
        self._transport.sendto(encode_message(address, args, "".join(letters[type(a)] for a in args)))

    def clear(self, address: str) -> None:
        """Forget the replies kept for ``address``."""
        self._replies[address].clear()

    def take(self, address: str) -> list[Reply]:
        """Every reply kept for ``address`` (oldest first), forgotten once taken."""
        replies = list(self._replies[address])
        self.clear(address)
        return replies

    def _raise_refusal(self) -> None:
        if self._replies[ERROR_ADDRESS]:
            _, (message, *_) = self._replies[ERROR_ADDRESS].popleft()
            raise DaemonRefusal(str(message))

    async def next(self, address: str, timeout: float) -> tuple[OscValue, ...]:
        """The oldest kept reply to ``address``, waiting for one up to ``timeout`` seconds.

        Raises:
            DaemonRefusal: an error reply came first.
            TimeoutError: nothing came in time.
        """
        async with asyncio.timeout(timeout):
            while True:
                self._raise_refusal()
                if self._replies[address]:
                    return self._replies[address].popleft()[1]
                self._arrived.clear()
                await self._arrived.wait()

    async def drain(self, address: str, quiet: float, timeout: float) -> list[Reply]:
        """Every reply to ``address`` until none came for ``quiet`` seconds (at most ``timeout`` in all).

        Raises:
            DaemonRefusal: an error reply came.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._raise_refusal()
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), quiet)
            except TimeoutError:
                break
        self._raise_refusal()
        return self.take(address)
