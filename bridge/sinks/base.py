"""What every sink shares: :class:`SinkError`, the :class:`Sink` protocol, and
:class:`ReceiverSynth`, the base of the synths that follow MIDI through a DX7 receiver."""

from __future__ import annotations

from typing import Protocol

from bridge.midi.cc_map import CcMap
from bridge.midi.receiver import Receiver
from models.errors import DexbridgeError
from models.voice import Voice


class SinkError(DexbridgeError, RuntimeError):
    """A sink that cannot be opened or cannot render (missing plugin, no audio device, ...)."""


class Sink(Protocol):
    """A destination of MIDI messages."""

    name: str

    def send(self, message: bytes) -> None:
        """Deliver one complete MIDI message (SysEx, CC, note, program change)."""
        ...

    @property
    def backlog(self) -> int:
        """Messages taken but not yet delivered (a paced port); the daemon holds its queue back meanwhile."""
        ...

    def all_notes_off(self) -> None:
        """Release every sounding note."""
        ...

    def close(self) -> None:
        """Release the port, device or plugin (idempotent)."""
        ...


class ReceiverSynth:
    """A synth that applies MIDI as Dexed would (:class:`bridge.midi.receiver.Receiver`) and holds the
    resulting voice; subclasses render or play it.

    Args:
        name: the sink's name in logs and ``/dexbridge/status``.
        voice: the initial voice (default ``Voice.init()``).
        cc_map: the CCs it has "learned" (cc mode); None = CCs change nothing.
    """

    def __init__(self, name: str, voice: Voice | None = None, cc_map: CcMap | None = None) -> None:
        self.name = name
        self.receiver = Receiver(voice=voice, cc_map=cc_map)

    @property
    def voice(self) -> Voice:
        """The voice the synth holds now."""
        return self.receiver.voice

    @property
    def backlog(self) -> int:
        """Nothing waits: every message is applied as it is sent."""
        return 0

    def send(self, message: bytes) -> None:
        """Apply MIDI bytes as Dexed would.

        Raises:
            ReceiverError: a value outside its DX7 range (that message is not applied, the others are).
            SysexDecodeError: a DX7 SysEx message that cannot be decoded (likewise).
        """
        self.receiver.feed(message)


__all__ = ["ReceiverSynth", "Sink", "SinkError"]
