"""The tests' OSC clients: the daemon's own (:class:`bridge.osc.client.OscClient`, over UDP) and one TCP
connection (SLIP-framed) that keeps its replies the same way; :func:`build` encodes one message."""

from __future__ import annotations

import asyncio
from typing import Any

from pythonosc import slip

from bridge.osc.client import REPLY_TIMEOUT_S, OscClient
from bridge.osc.packet import encode_message

__all__ = ["REPLY_TIMEOUT_S", "OscClient", "OscTcpClient", "build"]


def build(address: str, *args: Any, types: str | None = None) -> bytes:
    """One OSC message; ``types`` forces type letters (one per argument), else they are inferred from the values."""
    return encode_message(address, args, types)


class OscTcpClient(OscClient):
    """One TCP connection (SLIP framing) to an OSC server, keeping its replies as :class:`OscClient` does."""

    def __init__(self) -> None:
        super().__init__()
        self.writer: asyncio.StreamWriter | None = None
        self.closed = asyncio.Event()
        """Set when the server closed the connection."""
        self._reading: asyncio.Task[None] | None = None

    async def open(self, host: str | None, port: int = 0, local_port: int = 0,
                   local_host: str | None = "127.0.0.1") -> OscTcpClient:
        """Connect from ``local_host`` (another loopback address such as 127.0.0.2 is another client)."""
        assert host is not None and local_host is not None, "a TCP client connects from one address to a server"
        reader, self.writer = await asyncio.open_connection(host, port, local_addr=(local_host, local_port))
        self._reading = asyncio.get_running_loop().create_task(self._read(reader))
        return self

    async def _read(self, reader: asyncio.StreamReader) -> None:
        buffer = b""
        try:
            while chunk := await reader.read(65536):
                *frames, buffer = (buffer + chunk).split(slip.END)
                for frame in filter(None, frames):
                    self.received(slip.decode(frame))
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
