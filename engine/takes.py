"""A take: one recording of a sound with the note and velocity it was played at, the engine's one type for it.

:meth:`engine.runtime.Engine.infer_takes` is given takes as recorded (any rate, a note or ``None``);
:class:`engine.search.VoiceSearch` scores voices against takes the engine conditioned (the model rate,
from the onset, their notes found). Every caller passes the note and velocity it means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from models.errors import ModelInputError

if TYPE_CHECKING:
    from engine.conditioning import Conditioned

__all__ = ["Take", "take_note", "takes_pitch"]


@dataclass(frozen=True)
class Take:
    """One recording of a sound and how it was played.

    Attributes:
        audio: 1-D mono or (samples, channels) float audio of one note; for the search, mono float32 at the
            model rate from its onset, the model window long (``Conditioned.at_input_level``).
        sample_rate: its rate in Hz.
        note: the MIDI note it was played at (the search renders the voice there to compare); ``None``: the
            note nearest its pitch (the engine finds it, :func:`take_note`).
        velocity: the MIDI velocity it was played with (1-127).
    """

    audio: np.ndarray
    sample_rate: int
    note: int | None
    velocity: int


def take_note(take: Take, heard: Conditioned, number: int) -> int:
    """The take's note: as given, else the note nearest its pitch (``heard``: the take conditioned).

    Raises:
        ModelInputError: a note or velocity out of range, or no note and no clear pitch.
    """
    if take.note is not None:
        if not 0 <= take.note <= 127 or not 1 <= take.velocity <= 127:
            raise ModelInputError(f"take {number + 1}: note {take.note} / velocity {take.velocity} out of range "
                                  "(notes 0-127, velocities 1-127)")
        return take.note
    if heard.f0_hz is None:
        raise ModelInputError(f"take {number + 1} has no clear pitch ({heard.pitch_reason}): give its note, "
                              "e.g. FILE:60:100")
    return int(round(12.0 * np.log2(heard.f0_hz / 440.0) + 69.0))


def takes_pitch(f0s: Sequence[float | None], notes: Sequence[int], reference_note: int) -> float | None:
    """The pitch several takes ask of a voice at ``reference_note``: the median of each pitched take's f0 brought
    there from its note (``f0s``: each take's, ``None`` where it has none). ``None`` (unpitched) when fewer than half
    the takes have a pitch: a tracker that hears one in a single take of an inharmonic sound would otherwise
    tune every voice to it."""
    pitched = [f0 * 2.0 ** ((reference_note - note) / 12.0) for f0, note in zip(f0s, notes, strict=True) if f0 is not None]
    return float(np.median(pitched)) if pitched and 2 * len(pitched) >= len(f0s) else None
