"""Audio files read for the note they hold: only the part the engine hears, so a long recording
costs the memory of a few seconds, not of the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from models.dsp import ONSET_DB, ONSET_MARGIN_S
from models.errors import AudioFileError

if TYPE_CHECKING:
    import numpy as np

AUDIO_FORMATS = "WAV, FLAC, OGG or AIFF"
SCAN_FRAMES = 1 << 16
"""Frames decoded at a time while a file is scanned for its note (:func:`read_note`)."""


def refuse_empty(path: Path, frames: int) -> None:
    """Refuse a file of 0 frames (a header and no audio).

    Raises:
        AudioFileError: naming the file and what to give.
    """
    if frames <= 0:
        raise AudioFileError(f"audio file {path} holds no audio (0 samples): give a recording of one note, ideally 4 s")


@dataclass(frozen=True)
class Excerpt:
    """The part of an audio file that was read.

    Attributes:
        audio: (samples,) or (samples, channels) float32.
        sample_rate: the file's rate.
        start_s: where ``audio`` begins in the file, in seconds.
        file_s: the whole file's length, in seconds.
    """

    audio: np.ndarray
    sample_rate: int
    start_s: float
    file_s: float

    @property
    def stop_s(self) -> float:
        """Where ``audio`` ends in the file, in seconds."""
        return self.start_s + len(self.audio) / self.sample_rate


def read_note(path: Path, seconds: float) -> Excerpt:
    """The note in an audio file, read without the rest: from just before its onset, at most
    ``seconds`` past it.

    The onset is the engine's (:mod:`engine.conditioning`): the first sample of the mono mixdown
    within ``ONSET_DB`` of the file's peak, less ``ONSET_MARGIN_S``. The file is scanned
    :data:`SCAN_FRAMES` frames at a time for it, so memory stays bounded whatever the file's length.

    Args:
        path: an existing, readable file (the caller has checked it).
        seconds: how much past the onset to read (:meth:`engine.runtime.Engine.seconds_heard`).

    Raises:
        AudioFileError: undecodable or empty.
    """
    import numpy as np
    import soundfile


    try:
        with soundfile.SoundFile(str(path)) as file:
            refuse_empty(path, file.frames)
            rate = file.samplerate
            peaks = np.array([np.abs(block.mean(axis=1)).max()
                              for block in file.blocks(SCAN_FRAMES, dtype="float32", always_2d=True)])
            threshold = float(peaks.max()) * 10.0 ** (ONSET_DB / 20.0)
            first = int(np.argmax(peaks >= threshold))
            file.seek(first * SCAN_FRAMES)
            block = file.read(SCAN_FRAMES, dtype="float32", always_2d=True).mean(axis=1)
            onset = first * SCAN_FRAMES + int(np.argmax(np.abs(block) >= threshold))
            start = max(0, onset - round(ONSET_MARGIN_S * rate))
            file.seek(start)
            audio = file.read(min(file.frames, onset + math.ceil(seconds * rate)) - start, dtype="float32")
            return Excerpt(audio, rate, start / rate, file.frames / rate)
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise undecodable(path, error) from None


def undecodable(path: Path, error: Exception) -> AudioFileError:
    """The error for a file libsndfile cannot decode, with its reason in plain words."""
    reason = str(error).rsplit(": ", 1)[-1].rstrip(".").strip() or type(error).__name__
    return AudioFileError(f"audio file {path} cannot be decoded ({reason[:1].lower() + reason[1:]}): give {AUDIO_FORMATS}")


