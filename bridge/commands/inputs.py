"""Files named on the command line, checked in plain words before anything slow happens.

An input that is missing, a folder, unreadable or not in its format is refused (exit code 2), and
so is an output whose folder does not exist: nothing is created silently. Audio is decoded by
libsndfile (soundfile, imported when a file is read).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from models.errors import AudioFileError, InputFileError, OutputPathError

if TYPE_CHECKING:
    import numpy as np

AUDIO_FORMATS = "WAV, FLAC, OGG or AIFF"


def check_input(path: Path, what: str, formats: str, error: type[InputFileError] = InputFileError) -> None:
    """Refuse an input file that is missing, a folder or unreadable.

    Args:
        path: the file named.
        what: what it is, as the message names it (``"audio file"``, ``".syx file"``).
        formats: what to give instead (``"WAV, FLAC, OGG or AIFF"``).
        error: the error raised.

    Raises:
        InputFileError: (or ``error``) the message names the file, what is wrong and what to give.
    """
    if path.is_dir():
        raise error(f"{what} {path} is a folder, not a file: name a {formats} file in it")
    if not path.exists():
        raise error(f"{what} {path} not found: give an existing {formats} file")
    if not os.access(path, os.R_OK):
        raise error(f"{what} {path} cannot be read (permission denied): check its permissions")


def require_file(path: Path) -> None:
    """Refuse an audio file that is missing, a folder, unreadable or undecodable, before anything slow
    happens (only its header is read).

    Raises:
        AudioFileError: the message names the file and the reason.
    """
    import soundfile

    check_input(path, "audio file", AUDIO_FORMATS, AudioFileError)
    try:
        soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise _undecodable(path, error) from None


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """Samples ((samples,) or (samples, channels) float32) and rate of an audio file.

    Raises:
        AudioFileError: missing file, a folder, or a format libsndfile cannot decode.
    """
    import soundfile

    check_input(path, "audio file", AUDIO_FORMATS, AudioFileError)
    try:
        audio, sample_rate = soundfile.read(path, dtype="float32", always_2d=False)
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise _undecodable(path, error) from None
    return audio, int(sample_rate)


def _undecodable(path: Path, error: Exception) -> AudioFileError:
    reason = str(error).rsplit(": ", 1)[-1].rstrip(".").strip() or type(error).__name__
    return AudioFileError(f"audio file {path} cannot be decoded ({reason[:1].lower() + reason[1:]}): give {AUDIO_FORMATS}")


def check_output(path: Path, what: str = "output file") -> None:
    """Refuse an output file named inside a folder that does not exist, or naming a folder.

    Raises:
        OutputPathError: the message names the folder and how to make it.
    """
    if path.is_dir():
        raise OutputPathError(f"{what} {path} is a folder: name a file in it")
    _check_folder(path.parent, what, path)


def check_output_folder(path: Path, what: str = "output folder") -> None:
    """Refuse an output folder that is a file, or whose parent folder does not exist (the folder
    itself is created when missing).

    Raises:
        OutputPathError: the message names the folder and how to make it.
    """
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{what} {path} is a file, not a folder: name a folder")
    _check_folder(path.parent, what, path)


def _check_folder(folder: Path, what: str, path: Path) -> None:
    if not folder.is_dir():
        place = "is a file, not a folder" if folder.exists() else "does not exist"
        raise OutputPathError(f"{what} {path}: the folder {folder} {place}; create it first (mkdir -p {folder})")
