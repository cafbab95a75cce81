"""Real asyncio OSC clients for tests: send over UDP (or TCP, SLIP-framed) with python-osc's builder, collect replies."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Sequence
from typing import Any

from pythonosc import slip
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

REPLY_TIMEOUT_S = 10.0
RECEIVE_BUFFER = 4 * 1024 * 1024  # a burst's replies must not overflow the kernel's queue while the loop is busy


def build(address: str, *args: Any, types: str | None = None) -> bytes:
    """One OSC message; ``types`` forces type letters (one per argument), else python-osc infers them."""
    builder = OscMessageBuilder(address)
    for position, value in enumerate(args):
        builder.add_arg(value, types[position] if types else None)
    return builder.build().dgram


class _Collect(asyncio.DatagramProtocol):
    def __init__(self, queue: asyncio.Queue[tuple[str, list[Any]]]) -> None:
        self.queue = queue

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        for timed in OscPacket(data).messages:  # a message, or a bundle of them
            self.queue.put_nowait((timed.message.address, list(timed.message.params)))


class OscClient:
    """A UDP socket that talks to one OSC server and queues every reply it gets."""

    def __init__(self) -> None:
        self.replies: asyncio.Queue[tuple[str, list[Any]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    async def open(self, host: str | None, port: int = 0, local_port: int = 0, local_host: str = "127.0.0.1") -> OscClient:
        """Bind a local port (on ``local_host``: another loopback address such as 127.0.0.2 is another
        client); with ``host`` None, only listen (replies from any sender)."""
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(
            lambda: _Collect(self.replies), local_addr=(local_host, local_port),
            remote_addr=(host, port) if host else None)
        with contextlib.suppress(OSError):  # the kernel may cap it at net.core.rmem_max
            self.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        return self

    @property
    def local_port(self) -> int:
        assert self.transport is not None
        return self.transport.get_extra_info("sockname")[1]

    def send(self, address: str, *args: Any, types: str | None = None) -> None:
        self.send_raw(build(address, *args, types=types))

    def send_raw(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.sendto(data)

    async def _next(self, deadline: float, wanted: str) -> tuple[str, list[Any]]:
        """The next reply, or a TimeoutError naming ``wanted`` once ``deadline`` (loop time) passed."""
        remaining = deadline - asyncio.get_running_loop().time()
        try:
            return await asyncio.wait_for(self.replies.get(), max(remaining, 0.0))
        except TimeoutError:
            raise TimeoutError(f"no {wanted} reply in time") from None

    async def expect(self, address: str, timeout: float = REPLY_TIMEOUT_S, skip: Sequence[str] = ()) -> list[Any]:
        """The arguments of the next reply within ``timeout`` seconds; replies whose address is in
        ``skip`` are passed over."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            got, args = await self._next(deadline, address)
            if got in skip:
                continue
            assert got == address, f"expected {address}, got {got} {args!r:.300}"
            return args

    async def until(self, address: str, timeout: float = REPLY_TIMEOUT_S) -> list[Any]:
        """The arguments of the next reply to ``address`` within ``timeout`` seconds, passing over any other."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            got, args = await self._next(deadline, address)
            if got == address:
                return args

    def drain(self) -> list[tuple[str, list[Any]]]:
        """Every reply received so far, removed from the queue."""
        items = []
        while not self.replies.empty():
            items.append(self.replies.get_nowait())
        return items

    async def settle(self, quiet: float = 0.2, timeout: float = REPLY_TIMEOUT_S) -> list[tuple[str, list[Any]]]:
        """Every reply until none has come for ``quiet`` seconds (datagrams already sent are read, not raced)."""
        items = self.drain()
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            try:
                items.append(await asyncio.wait_for(self.replies.get(), quiet))
            except TimeoutError:
                return items
        raise AssertionError(f"replies still coming after {timeout} s")

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class OscTcpClient(OscClient):
    """One TCP connection (SLIP framing) to an OSC server, with :class:`OscClient`'s reply queue."""

    def __init__(self) -> None:
        super().__init__()
        self.writer: asyncio.StreamWriter | None = None
        self.closed = asyncio.Event()
        """Set when the server closed the connection."""
        self._reading: asyncio.Task[None] | None = None

    async def open(self, host: str | None, port: int = 0, local_port: int = 0, local_host: str = "127.0.0.1") -> OscTcpClient:
        """Connect from ``local_host`` (another loopback address such as 127.0.0.2 is another client)."""
        assert host is not None, "a TCP client connects to a server"
        reader, self.writer = await asyncio.open_connection(host, port, local_addr=(local_host, local_port))
        self._reading = asyncio.get_running_loop().create_task(self._read(reader))
        return self

    async def _read(self, reader: asyncio.StreamReader) -> None:
        buffer = b""
        try:
            while chunk := await reader.read(65536):
                *frames, buffer = (buffer + chunk).split(slip.END)
                for frame in filter(None, frames):
                    for timed in OscPacket(slip.decode(frame)).messages:
                        self.replies.put_nowait((timed.message.address, list(timed.message.params)))
        except ConnectionError:
            pass
        finally:
            self.closed.set()

    @property
    def local_port(self) -> int:
        assert self.writer is not None
        return self.writer.get_extra_info("sockname")[1]

    def send_raw(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(slip.encode(data))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self._reading is not None:
            self._reading.cancel()
