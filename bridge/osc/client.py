"""A small asyncio OSC client for the daemon: send messages over UDP, wait for the replies.

It keeps every reply, by address and in arrival order, with its arrival time, so a caller can
wait for one answer (:meth:`OscClient.next`) or collect a stream (:meth:`OscClient.drain`); a
``/dexbridge/error`` reply makes the next wait raise :class:`DaemonRefusal`. Given a
:class:`Listener`, it hands each datagram's messages to it as they arrive instead (and keeps
nothing), for clients that run as long as the daemon does (``dexbridge monitor``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from pythonosc.osc_packet import OscPacket, ParseError

from bridge.osc.namespace import OscValue
from bridge.osc.packet import encode_message
from bridge.osc.server import ERROR_ADDRESS
from models.errors import DexbridgeError

logger = logging.getLogger(__name__)


class DaemonRefusal(DexbridgeError, RuntimeError):
    """The daemon answered ``/dexbridge/error``."""


Reply = tuple[float, tuple[OscValue, ...]]  # arrival time (time.monotonic) and arguments
Message = tuple[str, tuple[OscValue, ...]]  # address and arguments


class Listener(Protocol):
    """Who hears a client's datagrams as they arrive (on the event loop)."""

    def packet(self, arrived: float, messages: Sequence[Message]) -> None:
        """One datagram's messages (a bundle's, in order), with its arrival time (``time.monotonic``)."""

    def failed(self, error: OSError) -> None:
        """The network said the datagrams do not arrive (nothing listens on that port: ICMP unreachable)."""


class OscClient(asyncio.DatagramProtocol):
    """A UDP OSC client that keeps every reply, by address and in arrival order, with its arrival time.

    A ``/dexbridge/error`` reply makes the next wait raise :class:`DaemonRefusal`.
    """

    def __init__(self, listener: Listener | None = None) -> None:
        self._transport: asyncio.DatagramTransport | None = None
        self._replies: dict[str, collections.deque[Reply]] = collections.defaultdict(collections.deque)
        self._arrived = asyncio.Event()
        self.listener = listener

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, host: str, port: int, *, listener: Listener | None = None,
                      local_port: int | None = None) -> AsyncIterator[OscClient]:
        """A client whose datagrams go to ``host:port``; the daemon replies to its local port.

        Args:
            host: the daemon's address.
            port: its OSC port.
            listener: hears each datagram as it arrives (nothing is kept); None keeps the replies.
            local_port: receive on this port (a daemon started with ``--reply-port`` replies there);
                default: any free port.

        Raises:
            OSError: ``local_port`` is taken, or ``host`` cannot be reached.
        """
        loop = asyncio.get_running_loop()
        local = None if local_port is None else ("0.0.0.0", local_port)
        _, client = await loop.create_datagram_endpoint(lambda: cls(listener), remote_addr=(host, port), local_addr=local)
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
        if self.listener is not None:
            self.listener.packet(now, [(message.address, tuple(message.params)) for message in messages])
            return
        for message in messages:
            self._replies[message.address].append((now, tuple(message.params)))
        self._arrived.set()

    def error_received(self, exc: Exception) -> None:
        if self.listener is not None and isinstance(exc, OSError):
            self.listener.failed(exc)
        else:
            logger.info("osc_client.udp_error error=%r", exc)

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
