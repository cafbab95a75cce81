"""Spreading a burst over JACK periods: at most N messages per period into one port.

rtmidi's JACK output writes everything queued since the last cycle into one period, at frame 0:
a voice's 155 parameter changes reach the synth in one period. JACK carries it (rtmidi's ring
buffer holds 16 KB and makes the sender wait when full; ``scripts/measure_midi_loss.py`` counts
every message at 64 frames), and so does Dexed, but a receiver that takes a fixed number of
events per period (a 64-event input queue) drops the rest. :class:`PacedWriter` sends from a
thread of its own: at most ``per_period`` messages, then it sleeps one period, so each chunk lands
in a later period than the one before. Nothing is dropped and the order is kept; the daemon holds its own queue back
while a writer has a backlog (:attr:`PacedWriter.backlog`), so a morph's latest-value-wins
coalescing still happens upstream.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

from bridge.midi.jack_link import close_jack_client, open_jack_client
from models.errors import MidiPortError

OTHER_PERIOD_S = 0.001
"""The pacing period where the MIDI system has none (ALSA, CoreMIDI, WinMM): a millisecond."""


def jack_period_s() -> float | None:
    """The running JACK server's period in seconds (frames / sample rate), or None when it cannot be read."""
    try:
        client = open_jack_client("dexbridge-period", "to read the period")
    except MidiPortError:  # no libjack or no server: the caller paces per millisecond
        return None
    try:
        return client.blocksize / client.samplerate
    finally:
        close_jack_client(client)


class PacedWriter:
    """Writes messages through ``write`` from its own thread, at most ``per_period`` every ``period_s``.

    Args:
        write: sends one message (rtmidi's ``send_message``); what it raises stops the writer and is
            raised again by the next :meth:`put`.
        per_period: messages per period (>= 1).
        period_s: the period in seconds.
        name: the thread's name.

    Raises:
        ValueError: ``per_period`` < 1 or a period that is not positive.
    """

    def __init__(self, write: Callable[[bytes], None], per_period: int, period_s: float, name: str = "dexbridge-paced") -> None:
        if per_period < 1 or not period_s > 0:
            raise ValueError(f"pacing of {per_period} messages per {period_s} s: need at least 1 message and a positive period")
        self.write = write
        self.per_period = per_period
        self.period_s = period_s
        self.error: BaseException | None = None
        self._queue: collections.deque[bytes] = collections.deque()
        self._ready = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def backlog(self) -> int:
        """Messages queued and not yet written (0 once the writer failed: the next :meth:`put` raises)."""
        return 0 if self.error is not None else len(self._queue)

    def put(self, message: bytes) -> None:
        """Queue one message (never blocks).

        Raises:
            BaseException: what ``write`` raised on the writer's thread (the writer has stopped).
            RuntimeError: the writer is closed.
        """
        if self.error is not None:
            raise self.error
        if self._closed:
            raise RuntimeError("the paced writer is closed")
        with self._ready:
            self._queue.append(message)
            self._ready.notify()

    def flush(self, timeout_s: float) -> bool:
        """Wait until the backlog is written (or ``timeout_s``); whether it was."""
        deadline = time.monotonic() + timeout_s
        while self._queue and self.error is None and time.monotonic() < deadline:
            time.sleep(self.period_s)
        return not self._queue

    def close(self) -> None:
        """Stop the thread; what is still queued is dropped (:meth:`flush` first to send it)."""
        with self._ready:
            self._closed = True
            self._ready.notify()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        next_chunk_at = 0.0  # a chunk goes a period after the one before; after a pause, at once
        while True:
            with self._ready:
                while not self._queue and not self._closed:
                    self._ready.wait()
                if self._closed:
                    return
            time.sleep(max(0.0, next_chunk_at - time.monotonic()))
            with self._ready:
                chunk = [self._queue.popleft() for _ in range(min(self.per_period, len(self._queue)))]
            try:
                for message in chunk:
                    self.write(message)
            except BaseException as exc:  # the port vanished: the next put() tells the daemon
                self.error = exc
                return
            next_chunk_at = time.monotonic() + self.period_s
