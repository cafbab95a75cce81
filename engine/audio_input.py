"""Audio as callers hand it over, checked once: a rate in range, one finite float64 mono signal."""

from __future__ import annotations

import numpy as np

from models.errors import ModelInputError

__all__ = ["MAX_CHANNELS", "check_rate", "to_mono"]

MAX_CHANNELS = 8


def check_rate(sample_rate: object) -> None:
    """Refuse a sample rate that is not a whole number of Hz in 1000..768000.

    Raises:
        ModelInputError: with the value and the valid range.
    """
    if not (isinstance(sample_rate, int | np.integer) and 1000 <= sample_rate <= 768_000):
        raise ModelInputError(f"sample rate {sample_rate!r} Hz: give a whole number of Hz in 1000..768000")


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Finite float64 mono samples of 1-D audio or (samples, channels) audio (channels averaged;
    integer PCM scaled to [-1, 1]).

    Raises:
        ModelInputError: not 1-D or 2-D, channels on the wrong axis, empty, NaN or inf.
    """
    array = np.asarray(audio)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ModelInputError(f"audio dtype {array.dtype}: give float samples in [-1, 1]")
    if array.ndim == 2:
        if array.shape[1] > MAX_CHANNELS:
            raise ModelInputError(
                f"audio shape {array.shape} reads as {array.shape[0]} samples x {array.shape[1]} channels "
                f"(at most {MAX_CHANNELS}): pass (samples, channels), e.g. audio.T"
            )
    elif array.ndim != 1:
        raise ModelInputError(f"audio shape {array.shape}: give 1-D mono or (samples, channels) audio")
    if array.size == 0:
        raise ModelInputError("audio is empty (0 samples): give a recording of one note, ideally 4 s")
    mono = array.mean(axis=1, dtype=np.float64) if array.ndim == 2 else array.astype(np.float64)
    if np.issubdtype(array.dtype, np.integer):  # PCM integers: full scale is the type's range
        mono /= float(np.iinfo(array.dtype).max) + 1.0
    bad = ~np.isfinite(mono)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ModelInputError(
            f"audio holds {int(bad.sum())} NaN/inf samples (first at sample {first}): "
            "fix the recording or the code that produced it"
        )
    return mono
