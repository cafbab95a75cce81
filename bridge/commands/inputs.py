"""Files named on the command line, checked in plain words before anything slow happens.

An input that is missing, a folder, unreadable, empty or not in its format is refused (exit code 2),
and so is an output whose folder does not exist or whose extension names a format it is not written
in: nothing is created silently. Audio is decoded by libsndfile (soundfile, imported when a file is
read); a long recording is read only around its note (:func:`bridge.audio_file.read_note`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bridge.audio_file import AUDIO_FORMATS, refuse_empty, undecodable
from models.errors import AudioFileError, InputFileError, OutputPathError

if TYPE_CHECKING:
    import numpy as np



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
    """Refuse an audio file that is missing, a folder, unreadable, undecodable or empty, before
    anything slow happens (only its header is read).

    Raises:
        AudioFileError: the message names the file and the reason.
    """
    import soundfile

    check_input(path, "audio file", AUDIO_FORMATS, AudioFileError)
    try:
        frames = soundfile.info(str(path)).frames
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise undecodable(path, error) from None
    refuse_empty(path, frames)


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
        raise undecodable(path, error) from None
    return audio, int(sample_rate)


def check_output(path: Path, what: str = "output file", suffixes: Sequence[str] = ()) -> None:
    """Refuse an output file named inside a folder that does not exist, naming a folder, or (when
    ``suffixes`` are given) whose extension is none of them.

    Args:
        path: the file named.
        what: the option, as the message names it (``"--out"``).
        suffixes: the extensions accepted, whose format is written (``(".syx",)``); empty: any.

    Raises:
        OutputPathError: the message names the file, what is wrong and the fix.
    """
    if path.is_dir():
        raise OutputPathError(f"{what} {path} is a folder: name a file in it")
    if suffixes and path.suffix.lower() not in suffixes:
        wrong = f"'{path.suffix}' is not a format {what} writes" if path.suffix else "no extension"
        listing = " or ".join([", ".join(suffixes[:-1]), suffixes[-1]] if len(suffixes) > 1 else suffixes)
        raise OutputPathError(f"{what} {path}: {wrong}; end the name in {listing} (e.g. {path.with_suffix(suffixes[0]).name})")
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
