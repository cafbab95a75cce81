"""Sans-IO reassembly of SysEx messages from a MIDI byte stream (like mido's tokenizer).

A port callback or a file reader feeds it whatever arrives; it hands back complete messages and
records every byte it had to drop, so nothing vanishes silently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bridge.midi.sysex import SYSEX_END, SYSEX_START

DEFAULT_MAX_SYSEX = 8192
_STATUS_BYTE = re.compile(rb"[\x80-\xff]")


class SysexAssembler:
    """Reassembles complete SysEx messages from a MIDI byte stream cut into arbitrary chunks.

    Sans-IO (like mido's tokenizer): feed whatever a port or file delivers, get back complete
    ``F0 .. F7`` messages. Realtime bytes (F8-FF) may interleave anywhere and are left out of
    the message. A status byte or a new ``F0`` inside an unterminated SysEx aborts it, as does
    growing past ``max_size``: each abort is appended to :attr:`errors`. Bytes outside any SysEx
    (channel messages, stray data, a lone ``F7``) are counted in :attr:`discarded`.
    """

    def __init__(self, max_size: int = DEFAULT_MAX_SYSEX) -> None:
        self.max_size = max_size
        self.errors: list[str] = []
        self.discarded = 0
        self._message: bytearray | None = None

    def feed(self, chunk: bytes | bytearray | Sequence[int]) -> list[bytes]:
        """Consume a chunk; return the messages it completed, in order.

        Raises:
            ValueError: ``chunk`` holds an integer outside 0-255.
        """
        data = bytes(chunk)
        complete: list[bytes] = []
        pos = 0
        while pos < len(data):
            match = _STATUS_BYTE.search(data, pos)
            end = match.start() if match else len(data)
            self._take_data(data[pos:end])
            if match is None:
                break
            self._take_status(data[end], complete)
            pos = end + 1
        return complete

    def take_errors(self) -> list[str]:
        """The errors recorded since the last call, removed from :attr:`errors`."""
        errors, self.errors = self.errors, []
        return errors

    def _take_data(self, run: bytes) -> None:
        if self._message is None:
            self.discarded += len(run)
            return
        self._message += run
        if len(self._message) >= self.max_size:  # the F7 has yet to come
            self._abort(f"SysEx longer than {self.max_size} bytes", len(self._message))

    def _take_status(self, byte: int, complete: list[bytes]) -> None:
        if byte >= 0xF8:  # realtime: allowed anywhere, never part of a message
            return
        if byte == SYSEX_END and self._message is not None:
            self._message.append(byte)
            complete.append(bytes(self._message))
            self._message = None
            return
        if self._message is not None:
            self._abort(f"status byte 0x{byte:02X} inside an unterminated SysEx", len(self._message))
        if byte == SYSEX_START:
            self._message = bytearray([byte])
        else:
            self.discarded += 1

    def _abort(self, reason: str, dropped: int) -> None:
        self.errors.append(f"{reason}: {dropped} bytes dropped")
        self._message = None
