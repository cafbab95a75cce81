"""Voice changes -> a coalesced, budgeted stream of MIDI messages.

Sans-IO: :class:`ParamStream` never touches a port or a clock. The caller hands it each new voice
(:meth:`ParamStream.update`) and asks, at its own control rate, for the messages it may send now
(:meth:`ParamStream.take`, with the current time). Only parameters whose value differs from what
the synth already holds are queued; a parameter changed again before it went out keeps one slot
and its latest value (latest wins), so a sweep A -> B never queues more than one message per
parameter. A :class:`ByteBudget` (token bucket) caps the bytes per second: unlimited by default,
:data:`DIN_BYTES_PER_SECOND` for a 5-pin DIN cable.

Dexed (v1.0) stores a SysEx parameter change in its voice and plays it from the next note-on;
learned CCs (see :mod:`bridge.midi.cc_map`) change sounding notes. Group-2 (function) parameter
changes are never produced: :func:`bridge.midi.sysex.encode_param_change` only writes group 0.
"""

from __future__ import annotations

import math
from typing import Protocol

from bridge.midi.sysex import PARAM_CHANGE_SIZE, encode_param_change
from bridge.midi.syxfile import DIN_BYTES_PER_SECOND
from models.params import VOICE_SIZE
from models.voice import Voice

DEFAULT_BURST_S = 0.02


class ParamEncoder(Protocol):
    """Turns one parameter value into the MIDI message that sets it on the synth."""

    @property
    def carried(self) -> frozenset[int]:
        """The VCED indices this encoder can send."""
        ...

    def encode(self, index: int, value: int) -> bytes:
        """The message setting parameter ``index`` to ``value``."""
        ...


class SysexParamEncoder:
    """DX7 voice parameter changes ``F0 43 1n gg pp dd F7`` (7 bytes) for VCED 0-154.

    Args:
        channel: MIDI channel 0-15 (the synth's SysEx receive channel).

    Raises:
        SysexEncodeError: ``channel`` is not 0-15.
    """

    carried: frozenset[int] = frozenset(range(VOICE_SIZE))

    def __init__(self, channel: int = 0) -> None:
        encode_param_change(0, 0, channel)  # validates the channel once, here
        self.channel = channel

    def encode(self, index: int, value: int) -> bytes:
        """The 7-byte parameter change (see :func:`bridge.midi.sysex.encode_param_change`)."""
        return encode_param_change(index, value, self.channel)


class ByteBudget:
    """A token bucket of bytes: ``bytes_per_second`` refill, at most ``burst_bytes`` saved up.

    Over any interval of ``T`` seconds, what :meth:`spend` grants never exceeds
    ``bytes_per_second * T + burst_bytes``. Share one budget between every stream that writes
    to the same port. Time is passed in (seconds, monotonic), never read here.

    Args:
        bytes_per_second: refill rate; ``None`` = unlimited (virtual and USB ports).
        burst_bytes: bucket size; the bucket starts full. Default: one parameter change plus
            :data:`DEFAULT_BURST_S` of the rate (70 B at DIN rate), so a caller ticking at 50 Hz
            or faster loses no refill to the cap and still reaches the full rate.

    Raises:
        ValueError: a rate that is not a positive finite number, or a burst under one
            parameter change (7 bytes), which could never send anything.
    """

    def __init__(self, bytes_per_second: float | None = None, burst_bytes: int | None = None) -> None:
        if bytes_per_second is not None and not (math.isfinite(bytes_per_second) and bytes_per_second > 0):
            raise ValueError(
                f"byte budget {bytes_per_second} B/s: give a positive rate ({DIN_BYTES_PER_SECOND} for DIN MIDI) "
                "or None for unlimited"
            )
        if burst_bytes is None:
            burst_bytes = PARAM_CHANGE_SIZE + math.ceil((bytes_per_second or 0) * DEFAULT_BURST_S)
        if burst_bytes < PARAM_CHANGE_SIZE:
            raise ValueError(f"burst of {burst_bytes} B is under one {PARAM_CHANGE_SIZE}-byte parameter change")
        self.bytes_per_second = bytes_per_second
        self.burst_bytes = burst_bytes
        self._tokens = float(burst_bytes)
        self._last: float | None = None

    def refill(self, now: float) -> None:
        """Add the bytes earned since the previous call.

        Raises:
            ValueError: ``now`` is earlier than a previous call's (use a monotonic clock).
        """
        if self._last is not None and now < self._last:
            raise ValueError(f"clock went back from {self._last} to {now} s: pass time.monotonic() values")
        if self._last is not None and self.bytes_per_second is not None:
            self._tokens = min(float(self.burst_bytes), self._tokens + (now - self._last) * self.bytes_per_second)
        self._last = now

    def spend(self, size: int) -> bool:
        """Take ``size`` bytes if the bucket holds them; False (nothing taken) otherwise."""
        if self.bytes_per_second is None:
            return True
        if size > self._tokens:
            return False
        self._tokens -= size
        return True


class ParamStream:
    """Coalescing queue of parameter changes from one voice to the next, paced by a byte budget.

    Args:
        channel: MIDI channel 0-15 of the default SysEx encoder.
        bytes_per_second: budget when no shared ``budget`` is given; None = unlimited.
        encoder: how a parameter becomes a message (default: SysEx parameter change on
            ``channel``; a :class:`bridge.midi.cc_map.CcMap` sends learned CCs instead).
        budget: a :class:`ByteBudget` shared with other streams on the same port.
        synth_voice: the voice the synth is known to hold; None = unknown, so the first
            :meth:`update` queues every parameter the encoder carries.

    Raises:
        SysexEncodeError: bad channel.
        ValueError: bad ``bytes_per_second``.
    """

    def __init__(
        self,
        channel: int = 0,
        bytes_per_second: float | None = None,
        *,
        encoder: ParamEncoder | None = None,
        budget: ByteBudget | None = None,
        synth_voice: Voice | None = None,
    ) -> None:
        self.encoder: ParamEncoder = encoder if encoder is not None else SysexParamEncoder(channel)
        self.budget = budget if budget is not None else ByteBudget(bytes_per_second)
        self._synth: list[int | None] = list(synth_voice.values) if synth_voice else [None] * VOICE_SIZE
        self._pending: dict[int, int] = {}  # insertion order = first change first out
        self.uncarried: frozenset[int] = frozenset()

    @property
    def pending(self) -> int:
        """Parameter changes queued, not yet sent."""
        return len(self._pending)

    def update(self, voice: Voice) -> None:
        """Queue the parameters of ``voice`` that differ from what the synth holds or will hold.

        A parameter already queued takes the new value in place; one set back to the value the
        synth holds leaves the queue. Parameters the encoder cannot carry are listed in
        :attr:`uncarried` (for a CC map: the name, and whatever the map leaves out).
        """
        uncarried: set[int] = set()
        for index, (held, wanted) in enumerate(zip(self._synth, voice.values, strict=True)):
            if held == wanted:
                self._pending.pop(index, None)
            elif index not in self.encoder.carried:
                uncarried.add(index)
            else:
                self._pending[index] = wanted
        self.uncarried = frozenset(uncarried)

    def forget_synth(self) -> None:
        """Know nothing of what the synth holds (it restarted, or a port reopened): the next
        :meth:`update` queues every parameter the encoder carries."""
        self._synth = [None] * VOICE_SIZE

    def assume_synth_holds(self, voice: Voice) -> None:
        """Record that the synth now holds ``voice`` (e.g. after a voice dump); drops the queue."""
        self._synth = list(voice.values)
        self._pending.clear()
        self.uncarried = frozenset()

    def take(self, now: float) -> list[bytes]:
        """The messages to send now, oldest change first, within the byte budget.

        Args:
            now: the current time in seconds from a monotonic clock.

        Returns:
            Complete MIDI messages; what the budget does not allow yet stays queued.

        Raises:
            ValueError: ``now`` went backwards.
        """
        self.budget.refill(now)
        out: list[bytes] = []
        for index, value in list(self._pending.items()):
            message = self.encoder.encode(index, value)
            if not self.budget.spend(len(message)):
                break
            del self._pending[index]
            self._synth[index] = value
            out.append(message)
        return out

