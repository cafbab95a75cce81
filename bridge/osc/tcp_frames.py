"""OSC over TCP: the two framings (OSC 1.0's length prefix, OSC 1.1's SLIP) read with bounded waits
and bounded memory.

Every wait has a deadline (:data:`TCP_IDLE_TIMEOUT_S` between frames, :data:`TCP_FRAME_TIMEOUT_S`
for a frame begun), and the bytes of unfinished frames of every connection together come out of
one :class:`ByteBudget`, so half-sent frames cannot hold the daemon's memory.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable

from pythonosc import slip

from bridge.osc.packet import OscPacketError

TCP_IDLE_TIMEOUT_S = 300.0  # a connection that sends nothing this long between frames is closed
TCP_FRAME_TIMEOUT_S = 30.0  # a frame begun must arrive whole within this
TCP_BUFFER_BYTES = 64 * 1024 * 1024  # bytes of unfinished TCP frames held at once, all connections together
LENGTH = struct.Struct("!I")  # OSC 1.0's frame length prefix


class ByteBudget:
    """Bytes of unfinished TCP frames the server holds, shared by every connection."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def take(self, count: int) -> None:
        """Hold ``count`` more bytes (a negative count gives some back).

        Raises:
            OscPacketError: that would pass the limit (other clients' frames hold the rest).
        """
        if count > 0 and self.held + count > self.limit:
            raise OscPacketError(f"TCP frame refused: {self.held} B of unfinished frames are being received and {count} B "
                                 f"more would pass {self.limit} B; connection closed, send it again shortly")
        self.held += count

    def give(self, count: int) -> None:
        """Release bytes taken with :meth:`take`."""
        self.held -= count


class LengthPrefixedFrames:
    """OSC 1.0 over TCP: each frame is a 4-byte big-endian length, then that many bytes."""

    def __init__(self, reader: asyncio.StreamReader, first: bytes, limit: int, budget: ByteBudget) -> None:
        self.reader, self.first, self.limit, self.budget = reader, first, limit, budget

    async def deliver(self, receive: Callable[[bytes], None]) -> None:
        """Hand each frame to ``receive`` until the client closes; every wait is bounded by the TCP timeouts."""
        header = self.first
        while True:
            async with asyncio.timeout(TCP_FRAME_TIMEOUT_S):
                header += await self.reader.readexactly(LENGTH.size - len(header))
            (size,) = LENGTH.unpack(header)
            if size > self.limit:
                raise OscPacketError(f"TCP frame of {size} B > {self.limit} B limit (length-prefixed OSC 1.0); "
                                     "connection closed")
            self.budget.take(size)
            try:
                async with asyncio.timeout(TCP_FRAME_TIMEOUT_S):
                    frame = await self.reader.readexactly(size)
            finally:
                self.budget.give(size)
            receive(frame)
            async with asyncio.timeout(TCP_IDLE_TIMEOUT_S):
                header = await self.reader.read(LENGTH.size)
            if not header:
                return


class SlipFrames:
    """OSC 1.1 over TCP: frames between SLIP ``END`` bytes."""

    def __init__(self, reader: asyncio.StreamReader, first: bytes, limit: int, budget: ByteBudget) -> None:
        self.reader, self.first, self.limit, self.budget = reader, first, limit, budget

    async def deliver(self, receive: Callable[[bytes], None]) -> None:
        """Hand each frame to ``receive`` until the client closes; every wait is bounded by the TCP timeouts."""
        buffer = bytearray()
        held = 0  # bytes of ``buffer`` counted in the budget
        try:
            chunk = self.first
            while chunk:
                search = len(buffer)  # the bytes before hold no END
                buffer += chunk
                start = 0
                while (end := buffer.find(slip.END, search)) != -1:
                    if end > start:
                        try:
                            frame = slip.decode(bytes(buffer[start:end]))
                        except slip.ProtocolError:
                            raise OscPacketError("bad SLIP escape in a TCP frame; connection closed") from None
                        receive(frame)
                    start = search = end + 1
                del buffer[:start]
                if len(buffer) > self.limit:
                    raise OscPacketError(f"SLIP frame longer than the {self.limit} B limit (no END byte); connection closed")
                self.budget.take(len(buffer) - held)
                held = len(buffer)
                async with asyncio.timeout(TCP_FRAME_TIMEOUT_S if buffer else TCP_IDLE_TIMEOUT_S):
                    chunk = await self.reader.read(65536)
        finally:
            self.budget.give(held)
