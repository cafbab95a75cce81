"""Render DX7 voices with dexed-py (the Dexed / msfa engine), offline, as float32 audio.

Defaults are the paper's settings (Le Vaillant et al., DAFx 2021): 22 050 Hz, a note held
3.0 s of a 4.0 s render, the single note (60, 85) or the six-note set :data:`MULTI_NOTES`.
Rendering does not depend on what the synth played before (checked in the tests), so one
:class:`Renderer` can render any number of voices in any order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from dexed import DexedSynth, Patch

from models.errors import DexbridgeError
from models.params import BY_NAME
from models.voice import Voice

SAMPLE_RATE = 22050
MIN_SAMPLE_RATE = 16000
"""The lowest rate rendered: at 11 025 and 12 000 Hz dexed-py 0.3 renders about a quarter of the voices silent."""
NOTE_SECONDS = 3.0
RENDER_SECONDS = 4.0
Note = tuple[int, int]  # (MIDI note 0-127, velocity 1-127)
SINGLE_NOTE: tuple[Note, ...] = ((60, 85),)
MULTI_NOTES: tuple[Note, ...] = ((40, 85), (50, 85), (60, 42), (60, 85), (60, 127), (70, 85))

# Dexed reads a 156th VCED byte, the operator on/off mask (param 155): all six operators on.
_ALL_OPERATORS_ON = bytes([BY_NAME["op_switch"].hi])


class Renderer:
    """One dexed-py synth rendering voices note by note.

    Not for sharing between threads or processes: give each worker its own renderer.

    Args:
        sample_rate: output sample rate in Hz.
        note_seconds: how long each note is held.
        render_seconds: length of each render (the release tail is the rest).

    Raises:
        ValueError: a rate under :data:`MIN_SAMPLE_RATE`, a non-positive duration, or a note held longer than the
            render.
    """

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        note_seconds: float = NOTE_SECONDS,
        render_seconds: float = RENDER_SECONDS,
    ) -> None:
        if sample_rate < MIN_SAMPLE_RATE:
            raise ValueError(f"sample rate {sample_rate} Hz is below {MIN_SAMPLE_RATE} Hz, where dexed-py renders some "
                             f"voices silent (the paper uses {SAMPLE_RATE})")
        if not 0 < note_seconds <= render_seconds:
            raise ValueError(
                f"note held {note_seconds} s in a {render_seconds} s render: need 0 < note <= render "
                f"(the paper holds {NOTE_SECONDS} s of {RENDER_SECONDS} s)"
            )
        self.sample_rate = sample_rate
        self.note_seconds = note_seconds
        self.render_seconds = render_seconds
        self._synth = DexedSynth(sample_rate)

    @property
    def samples(self) -> int:
        """Samples in one render."""
        return round(self.render_seconds * self.sample_rate)

    def render(self, voice: Voice, note: int = 60, velocity: int = 85) -> np.ndarray:
        """Render one note of a voice.

        Args:
            voice: the voice to play.
            note: MIDI note number 0-127 (60 = middle C).
            velocity: MIDI velocity 1-127.

        Returns:
            Mono float32 audio of :attr:`samples` samples (DX7 peaks can exceed 1.0).

        Raises:
            ValueError: note or velocity out of range.
            DexbridgeError: dexed-py returned non-finite samples.
        """
        self._load(voice)
        return self._render_loaded(voice, note, velocity)

    def render_notes(self, voice: Voice, notes: Sequence[Note] = SINGLE_NOTE) -> np.ndarray:
        """Render a voice on several (note, velocity) pairs.

        Returns:
            float32 array of shape ``(len(notes), samples)``, one row per note, in order.

        Raises:
            ValueError: no notes, or a note or velocity out of range.
            DexbridgeError: dexed-py returned non-finite samples.
        """
        if not notes:
            raise ValueError("render_notes needs at least one (note, velocity) pair, e.g. SINGLE_NOTE")
        self._load(voice)
        return np.stack([self._render_loaded(voice, note, velocity) for note, velocity in notes])

    def _load(self, voice: Voice) -> None:
        self._synth.load_patch(Patch.from_sysex(voice.vced + _ALL_OPERATORS_ON))

    def _render_loaded(self, voice: Voice, note: int, velocity: int) -> np.ndarray:
        if not 0 <= note <= 127:
            raise ValueError(f"MIDI note {note} out of range 0..127 (60 = middle C)")
        if not 1 <= velocity <= 127:
            raise ValueError(f"velocity {velocity} out of range 1..127 (0 would be a note-off)")
        audio = np.asarray(
            self._synth.render(note, velocity, self.note_seconds, self.render_seconds), dtype=np.float32
        )
        if not np.isfinite(audio).all():
            raise DexbridgeError(
                f"dexed-py rendered non-finite samples for voice '{voice.name}' at note {note}, "
                f"velocity {velocity}: report this voice (its VCED bytes) as a dexed-py bug"
            )
        return audio
