"""How the search scores a voice against recordings: its renders at each take's note and velocity,
compared by log-spectral MAE, plus a penalty for sub-20 Hz energy beyond the recording's own.

Module-level functions, so a worker process (:mod:`engine.render_pool`) scores exactly as the search does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.takes import Take
from models.metrics import log_magnitude, log_spec_mae, stft_magnitude
from models.render import Renderer
from models.voice import Voice

__all__ = ["SUBSONIC_HZ", "ScoreTarget", "score_renders", "subsonic_share", "targets_of"]

SUBSONIC_HZ = 20.0
SUBSONIC_WEIGHT = 2.0
SUBSONIC_SAMPLES = 1 << 15  # score penalty per unit share of the render's energy below SUBSONIC_HZ


@dataclass(frozen=True)
class ScoreTarget:
    """One take as the score sees it: where to play the voice, the take's log-magnitude spectrogram, and
    its own share of sub-20 Hz energy."""

    note: int
    velocity: int
    log_magnitude: np.ndarray
    subsonic: float


def targets_of(takes: Sequence[Take], sample_rate: int) -> list[ScoreTarget]:
    """What :func:`score_renders` compares with, computed once per search."""
    return [ScoreTarget(take.note, take.velocity, log_magnitude(stft_magnitude(take.audio)),
                        subsonic_share(take.audio, sample_rate)) for take in takes]


def score_renders(renderer: Renderer, voice: Voice, targets: Sequence[ScoreTarget]) -> float:
    """Mean over the targets of spec_mae of ``voice`` played at each one's note and velocity against its
    spectrogram, plus :data:`SUBSONIC_WEIGHT` times the share of its energy below :data:`SUBSONIC_HZ`
    beyond the take's own."""
    total = 0.0
    for target in targets:
        audio = renderer.render(voice, target.note, target.velocity)
        excess = max(0.0, subsonic_share(audio, renderer.sample_rate) - target.subsonic)
        total += log_spec_mae(target.log_magnitude, log_magnitude(stft_magnitude(audio))) + SUBSONIC_WEIGHT * excess
    return total / len(targets)


def subsonic_share(audio: np.ndarray, sample_rate: int) -> float:
    """Share of a sound's energy between DC and :data:`SUBSONIC_HZ`, its DC offset left out: carriers at
    a few Hz thump on monitors (a constant offset does not, and monitors block it). Read off the first
    :data:`SUBSONIC_SAMPLES` samples (1.5 s at 22 050 Hz: a power-of-two FFT, 0.7 Hz resolution)."""
    samples = np.asarray(audio[:SUBSONIC_SAMPLES], dtype=np.float32)
    spectrum = np.abs(np.fft.rfft(samples - samples.mean())) ** 2
    total = float(spectrum.sum())
    if total <= 0.0:
        return 0.0
    cutoff = int(SUBSONIC_HZ * len(samples) / sample_rate)
    return float(spectrum[1 : cutoff + 1].sum()) / total
