"""The asyncio OSC client for the daemon (``send``, ``monitor``, the demo, the soak and the tests): send
messages over UDP (:func:`bridge.osc.packet.encode_message`), keep the replies.

It keeps every reply in arrival order, with its arrival time. Two ways to read them:

- by address: wait for one answer (:meth:`OscClient.next`) or collect a stream (:meth:`OscClient.drain`),
  the arguments as a tuple; a ``/dexbridge/error`` reply makes the next such wait raise
  :class:`DaemonRefusal`;
- in arrival order, whatever the address: :meth:`OscClient.receive`, :meth:`OscClient.expect`,
  :meth:`OscClient.until`, :meth:`OscClient.settle`, :meth:`OscClient.take_all`, the arguments as a
  list (an error reply is a reply like any other).

Given a :class:`Listener`, it hands each datagram's messages to it as they arrive instead (and keeps
nothing), for clients that run as long as the daemon does (``dexbridge monitor``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

from pythonosc.osc_packet import OscPacket, ParseError

from bridge.osc.namespace import OscValue
from bridge.osc.packet import OscArg, encode_message
from bridge.osc.server import ERROR_ADDRESS
from models.errors import DexbridgeError

logger = logging.getLogger(__name__)

REPLY_TIMEOUT_S = 10.0
"""How long the arrival-order waits wait by default."""
RECEIVE_BUFFER = 4 * 1024 * 1024  # a burst's replies must not overflow the kernel's queue while the loop is busy


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
    """A UDP OSC client that keeps every reply in arrival order, with its arrival time.

    Args:
        listener: hears each datagram as it arrives (nothing is kept); None keeps the replies.
    """

    def __init__(self, listener: Listener | None = None) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self._inbox: collections.deque[tuple[float, str, tuple[OscValue, ...]]] = collections.deque()
        self._arrived = asyncio.Event()
        self.listener = listener

    async def open(self, host: str | None, port: int = 0, local_port: int = 0,
                   local_host: str | None = "127.0.0.1") -> OscClient:
        """Open the socket; returns the client.

        Args:
            host: the daemon's address; None: only listen (replies from any sender).
            port: its OSC port.
            local_port: receive on this port (a daemon started with ``--reply-port`` replies there); 0: any free port.
            local_host: the local address to bind (another loopback address such as 127.0.0.2 is another client);
                None: bind nothing, the system picks when the first datagram leaves.

        Raises:
            OSError: ``local_port`` is taken, or ``host`` cannot be reached.
        """
        loop = asyncio.get_running_loop()
        local = None if local_host is None else (local_host, local_port)
        await loop.create_datagram_endpoint(lambda: self, local_addr=local, remote_addr=(host, port) if host else None)
        assert self.transport is not None
        with contextlib.suppress(OSError):  # the kernel may cap it at net.core.rmem_max
            self.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        return self

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, host: str, port: int, *, listener: Listener | None = None,
                      local_port: int | None = None) -> AsyncIterator[OscClient]:
        """A client whose datagrams go to ``host:port``, closed on leaving; the daemon replies to its local port.

        Args:
            host: the daemon's address.
            port: its OSC port.
            listener: hears each datagram as it arrives (nothing is kept); None keeps the replies.
            local_port: receive on this port (on every interface); default: any free port.

        Raises:
            OSError: ``local_port`` is taken, or ``host`` cannot be reached.
        """
        client = cls(listener)
        await client.open(host, port, local_port or 0, None if local_port is None else "0.0.0.0")
        try:
            yield client
        finally:
            client.close()

    @property
    def local_port(self) -> int:
        """The port the replies come to."""
        assert self.transport is not None
        return self.transport.get_extra_info("sockname")[1]

    def close(self) -> None:
        """Close the socket."""
        if self.transport is not None:
            self.transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received(data)

    def received(self, data: bytes) -> None:
        """Keep (or hand to the listener) one packet's messages."""
        try:
            messages = [timed.message for timed in OscPacket(data).messages]
        except ParseError as exc:
            logger.warning("osc_client.unparsable_reply bytes=%d error=%s", len(data), exc)
            return
        now = time.monotonic()
        if self.listener is not None:
            self.listener.packet(now, [(message.address, tuple(message.params)) for message in messages])
            return
        self._inbox.extend((now, message.address, tuple(message.params)) for message in messages)
        self._arrived.set()

    def error_received(self, exc: Exception) -> None:
        if self.listener is not None and isinstance(exc, OSError):
            self.listener.failed(exc)
        else:
            logger.info("osc_client.udp_error error=%r", exc)

    def send(self, address: str, *args: OscArg, types: str | None = None) -> None:
        """Send one message; ``types`` gives the type letters, else Python str/int/float/bytes become OSC s/i/f/b
        (:func:`~bridge.osc.packet.encode_message` infers them)."""
        self.send_raw(encode_message(address, args, types))

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are (one datagram)."""
        assert self.transport is not None
        self.transport.sendto(data)

    # -- by address

    def clear(self, address: str) -> None:
        """Forget the replies kept for ``address``."""
        self.take(address)

    def take(self, address: str) -> list[Reply]:
        """Every reply kept for ``address`` (oldest first), forgotten once taken."""
        taken = [(arrived, args) for arrived, got, args in self._inbox if got == address]
        if taken:
            self._inbox = collections.deque(item for item in self._inbox if item[1] != address)
        return taken

    def _pop(self, address: str) -> Reply | None:
        for position, (arrived, got, args) in enumerate(self._inbox):
            if got == address:
                del self._inbox[position]
                return arrived, args
        return None

    def _raise_refusal(self) -> None:
        refusal = self._pop(ERROR_ADDRESS)
        if refusal is not None:
            _, (message, *_) = refusal
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
                found = self._pop(address)
                if found is not None:
                    return found[1]
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

    # -- in arrival order

    async def receive(self, timeout: float | None = REPLY_TIMEOUT_S, wanted: str = "any") -> tuple[str, list[Any]]:
        """The oldest kept reply, whatever its address, waiting up to ``timeout`` seconds (None: as long as it
        takes): its address and arguments.

        Raises:
            TimeoutError: nothing came in time (the message names ``wanted``).
        """
        if not self._inbox:  # a kept reply is taken at once: no timer per reply when many are waiting
            try:
                async with asyncio.timeout(None if timeout is None else max(timeout, 0.0)):
                    while not self._inbox:
                        self._arrived.clear()
                        await self._arrived.wait()
            except TimeoutError:
                raise TimeoutError(f"no {wanted} reply in time") from None
        _, address, args = self._inbox.popleft()
        return address, list(args)

    async def expect(self, address: str, timeout: float = REPLY_TIMEOUT_S, skip: Sequence[str] = ()) -> list[Any]:
        """The arguments of the next reply within ``timeout`` seconds, which must be to ``address``; replies
        whose address is in ``skip`` are passed over.

        Raises:
            AssertionError: the next reply is to another address.
            TimeoutError: nothing came in time.
        """
        deadline = time.monotonic() + timeout
        while True:
            got, args = await self.receive(deadline - time.monotonic(), address)
            if got in skip:
                continue
            assert got == address, f"expected {address}, got {got} {args!r:.300}"
            return args

    async def until(self, address: str, timeout: float = REPLY_TIMEOUT_S) -> list[Any]:
        """The arguments of the next reply to ``address`` within ``timeout`` seconds, passing over (and
        forgetting) any other.

        Raises:
            TimeoutError: nothing came in time.
        """
        deadline = time.monotonic() + timeout
        while True:
            got, args = await self.receive(deadline - time.monotonic(), address)
            if got == address:
                return args

    def take_all(self) -> list[tuple[str, list[Any]]]:
        """Every reply kept so far (address and arguments, oldest first), forgotten once taken."""
        items = [(address, list(args)) for _, address, args in self._inbox]
        self._inbox.clear()
        return items

    async def settle(self, quiet: float = 0.2, timeout: float = REPLY_TIMEOUT_S) -> list[tuple[str, list[Any]]]:
        """Every reply until none has come for ``quiet`` seconds (datagrams already sent are read, not raced).

        Raises:
            AssertionError: replies still came after ``timeout`` seconds.
        """
        items = self.take_all()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                items.append(await self.receive(quiet))
            except TimeoutError:
                return items
        raise AssertionError(f"replies still coming after {timeout} s")
