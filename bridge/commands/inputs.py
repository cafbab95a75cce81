"""Audio files as the commands read them: a missing or undecodable file is refused in plain words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from models.errors import AudioFileError


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """Samples ((samples,) or (samples, channels) float32) and rate of an audio file.

    Raises:
        AudioFileError: missing file, or a format libsndfile cannot decode.
    """
    require_file(path)
    try:
        audio, sample_rate = soundfile.read(path, dtype="float32", always_2d=False)
    except soundfile.LibsndfileError as error:
        raise AudioFileError(f"audio file {path} cannot be decoded ({error}): give WAV, FLAC, OGG or AIFF") from None
    return audio, int(sample_rate)


def require_file(path: Path) -> None:
    """Refuse a missing audio file before anything slow happens."""
    if not path.is_file():
        raise AudioFileError(f"audio file {path} not found: give an existing WAV, FLAC, OGG or AIFF file")
