"""Synth sinks: where the MIDI bytes of every output mode end up.

A sink takes complete MIDI messages (:meth:`Sink.send`), exactly the bytes a MIDI port would
carry, so each mode (param, dump, cc) is encoded once and every sink sees the same stream:
a MIDI port (:class:`MidiPortSink`), the embedded dexed-py synth
(:class:`bridge.sinks.embedded.EmbeddedSynth`), or DawDreamer hosting a Dexed VST3 or the bundled
Faust DX7 (:class:`bridge.sinks.dawdreamer.DawDreamerSynth`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from bridge.daemon.settings import SINKS
from bridge.midi.ports import MidiOutput, MidiPortError
from bridge.sinks.base import Sink, SinkError


class MidiPortSink:
    """A MIDI output port as a sink; a vanished port raises :class:`MidiPortError` from :meth:`send`.

    Args:
        output: an open :class:`MidiOutput`.
    """

    def __init__(self, output: MidiOutput) -> None:
        self.output = output
        self.name = f"midi:{output.name}"

    def send(self, message: bytes) -> None:
        """Send one message. Raises :class:`MidiPortError` when the port is gone."""
        self.output.send(message)

    @property
    def backlog(self) -> int:
        """Messages the port's pacing holds for later periods."""
        return self.output.backlog

    def all_notes_off(self) -> None:
        """CC 64 = 0 and CC 123 on all 16 channels. Raises :class:`MidiPortError` when the port is gone."""
        self.output.all_notes_off()

    def close(self) -> None:
        """Close the port."""
        self.output.close()


class SinkSettings(Protocol):
    """What :func:`open_sinks` reads (``bridge.daemon.settings.Settings`` has it all)."""

    @property
    def sink(self) -> tuple[str, ...]: ...

    @property
    def midi_out(self) -> str | None: ...

    @property
    def midi_api(self) -> str: ...

    @property
    def plugin(self) -> Path | None: ...

    @property
    def messages_per_period(self) -> int | None: ...


def open_sinks(settings: SinkSettings) -> list[Sink]:
    """Open every sink the settings name, in order; on a failure, close those already open.

    Args:
        settings: ``sink`` (kinds from :data:`bridge.daemon.settings.SINKS`), ``midi_out`` and ``midi_api`` for
            the midi sink, ``plugin`` (a Dexed VST3, or None for the Faust DX7) for dawdreamer.

    Raises:
        SinkError: an unknown kind, or the midi sink without ``midi_out``.
        MidiPortError: the MIDI port cannot be found or opened.
    """
    sinks: list[Sink] = []
    try:
        for kind in settings.sink:
            sinks.append(_open_sink(kind, settings))
    except BaseException:
        for sink in sinks:
            sink.close()
        raise
    return sinks


def _open_sink(kind: str, settings: SinkSettings) -> Sink:
    if kind == "midi":
        if not settings.midi_out:
            raise SinkError("sink 'midi' needs --midi-out PORT (a port name, a unique part of one, or virtual:NAME)")
        return MidiPortSink(MidiOutput(settings.midi_out, settings.midi_api, per_period=settings.messages_per_period))
    if kind == "embedded":
        from bridge.sinks.embedded import EmbeddedSynth

        return EmbeddedSynth()
    if kind == "dawdreamer":
        from bridge.sinks.dawdreamer import DawDreamerSynth

        return DawDreamerSynth(settings.plugin)
    raise SinkError(f"sink {kind!r} unknown: choose from {', '.join(SINKS)}")


__all__ = ["MidiPortError", "MidiPortSink", "Sink", "SinkError", "SinkSettings", "open_sinks"]
