"""How the search scores a voice against recordings: its renders at each take's note and velocity, from
their onsets, compared with each take (trimmed to its onset too), plus a penalty for sub-20 Hz energy beyond the recording's own.

The comparison (:data:`SCORES`): ``spec``, the paper's log-spectral MAE over linear-frequency bins;
``mel``, the mean dB difference of 128-band mel spectrograms floored 80 dB below the take's peak
(:func:`models.metrics.log_mel_distance`'s measure, from the same STFT), divided by
:data:`MEL_DB_PER_UNIT`; ``spec+mel``, their sum; ``spec+mel+env`` adds the mean dB difference of the two
level envelopes (each frame's total power, floored :data:`ENVELOPE_RANGE_DB` below the take's peak), divided
by the same: how long the note rings, which the spectra weigh by the few bins its sustained partials fill;
``spec+mel+mfcc`` adds the mean difference of the cepstra of the floored mel spectrograms (coefficients 1-19,
the MFCCs of the mel part: the spectral envelope, timbre apart from level), divided by :data:`CEPSTRUM_PER_UNIT`.
Every spectrogram is the metric's STFT and mel bands, taken in float32 from the power spectrum (:func:`spectra`).
Module-level functions, so a worker process
(:mod:`engine.render_pool`) scores exactly as the search does.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.takes import Take
from models.dsp import log_scaled, stft_power, trim_onset
from models.metrics import LOG_FLOOR, LOG_MEL_RANGE_DB, STFT_HOP, STFT_N_FFT, log_spec_mae, mel_filters
from models.render import Renderer
from models.voice import Voice

__all__ = ["DEFAULT_SCORE", "SCORES", "SCORE_WORDS", "SUBSONIC_HZ", "ScoreTarget", "Spectra", "cepstrum", "score_renders",
           "separate_parts", "spectra", "subsonic_share", "targets_of"]

SCORES = ("spec", "mel", "spec+mel", "spec+mel+env", "spec+mel+mfcc")
DEFAULT_SCORE = "spec+mel"
"""Chosen on the validation split: closer than ``spec`` there on the log-spectral MAE, log-mel dB and MFCCs."""
MEL_DB_PER_UNIT = 20.0
"""log-mel dB per unit of score: 20 dB weighs about as much as the log-spectral MAE's typical spread."""
CEPSTRUM_PER_UNIT = 40.0
"""Cepstral distance per unit of score (``spec+mel+mfcc``)."""
SCORE_WORDS = {"spec": "log-spectral MAE", "mel": "log-mel dB / 20", "spec+mel": "log-spectral MAE + log-mel dB / 20",
               "spec+mel+env": "log-spectral MAE + (log-mel dB + level-envelope dB) / 20",
               "spec+mel+mfcc": "log-spectral MAE + log-mel dB / 20 + MFCC / 40"}
"""Each score in words, for people reading a distance."""

ENVELOPE_RANGE_DB = 60.0
"""Level-envelope floor below the take's loudest frame: a tail that quiet has ended, to the ear."""

SUBSONIC_HZ = 20.0
SUBSONIC_WEIGHT = 2.0
SUBSONIC_SAMPLES = 1 << 15  # score penalty per unit share of the render's energy below SUBSONIC_HZ


@dataclass(frozen=True)
class ScoreTarget:
    """One take as the score sees it: where to play the voice, the take's log-magnitude spectrogram (for
    ``spec``), its floored mel dB spectrogram and the floor (for ``mel``), its floored level envelope and that
    floor (for ``env``), its own share of sub-20 Hz energy, and which comparison (:data:`SCORES`)."""

    note: int
    velocity: int
    log_magnitude: np.ndarray | None
    mel_db: np.ndarray | None
    mel_floor_db: float
    subsonic: float
    score: str = DEFAULT_SCORE
    envelope_db: np.ndarray | None = None
    envelope_floor_db: float = 0.0
    cepstrum: np.ndarray | None = None


@functools.cache
def _dct_rows(bands: int) -> np.ndarray:
    """Rows 1-19 of the orthonormal DCT-II matrix over ``bands`` (what ``scipy.fft.dct(norm="ortho")`` gives)."""
    k, n = np.arange(1, 20)[:, None], np.arange(bands)[None, :]
    return (np.sqrt(2.0 / bands) * np.cos(np.pi * (n + 0.5) * k / bands)).astype(np.float32)


def cepstrum(floored_mel_db: np.ndarray) -> np.ndarray:
    """Coefficients 1-19 of the orthonormal DCT of a floored mel dB spectrogram (frames, bands) over its bands."""
    return floored_mel_db @ _dct_rows(floored_mel_db.shape[-1]).T


@functools.cache
def _window() -> np.ndarray:
    from scipy.signal import get_window

    return get_window("hann", STFT_N_FFT, fftbins=True).astype(np.float32)


@functools.cache
def _mel_bins_first(sample_rate: int) -> np.ndarray:
    return np.ascontiguousarray(mel_filters(sample_rate).T)


_HALF_LOG10 = 0.5 / np.log(10.0)
_DB = 10.0 / np.log(10.0)


@dataclass(frozen=True)
class Spectra:
    """What a score compares of one sound (frames first): log10 max(|S|, 1e-4) over the STFT's bins (the paper's
    log-spectral measure), the 128-band mel dB spectrogram, and each frame's total power in dB."""

    log_magnitude: np.ndarray
    mel_db: np.ndarray
    envelope_db: np.ndarray


def spectra(audio: np.ndarray, sample_rate: int) -> Spectra:
    """The :class:`Spectra` of mono float32 audio: the metric's STFT (1024 / hop 256, Hann, centred) and mel bands,
    computed in float32 throughout from the power spectrum (no square root): about twice as fast as the paper
    metric's own spectrogram (:func:`models.metrics.stft_magnitude`: librosa's, bit for bit, through a
    float64 FFT), and agrees with it within float32 rounding."""
    import scipy.fft  # here: a command's --help imports this module and needs NumPy only

    power = stft_power(np.asarray(audio, dtype=np.float32), STFT_N_FFT, STFT_HOP, _window(), fft=scipy.fft.rfft)
    return Spectra(log_scaled(power, LOG_FLOOR * LOG_FLOOR, _HALF_LOG10),
                   log_scaled(power @ _mel_bins_first(sample_rate), 1e-12, _DB),
                   log_scaled(power.sum(axis=-1), 1e-12, _DB))


def separate_parts(score: str) -> tuple[str, ...]:
    """The distances ``score`` adds that are scores of their own (``spec``, ``mel``), where it adds more than one:
    ``("spec", "mel")`` for ``spec+mel``, none for ``spec``."""
    parts = tuple(part for part in ("spec", "mel") if part in score.split("+"))
    return parts if len(parts) > 1 else ()


def targets_of(takes: Sequence[Take], sample_rate: int, score: str = DEFAULT_SCORE) -> list[ScoreTarget]:
    """What :func:`score_renders` compares with, computed once per search.

    Raises:
        ValueError: a score not in :data:`SCORES`.
    """
    if score not in SCORES:
        raise ValueError(f"score {score!r}: one of {', '.join(SCORES)}")
    parts = set(score.split("+"))
    targets = []
    for take in takes:
        heard = spectra(take.audio, sample_rate)
        floor = float(heard.mel_db.max()) - LOG_MEL_RANGE_DB if "mel" in parts else 0.0
        floored = np.maximum(heard.mel_db, np.float32(floor)) if "mel" in parts else None
        envelope_floor = float(heard.envelope_db.max()) - ENVELOPE_RANGE_DB if "env" in parts else 0.0
        targets.append(ScoreTarget(take.note, take.velocity, heard.log_magnitude if "spec" in parts else None,
                                   floored, floor, subsonic_share(take.audio, sample_rate), score,
                                   np.maximum(heard.envelope_db, np.float32(envelope_floor)) if "env" in parts else None,
                                   envelope_floor, cepstrum(floored) if floored is not None and "mfcc" in parts else None))
    return targets


def score_renders(renderer: Renderer, voice: Voice, targets: Sequence[ScoreTarget], first: float | None = None) -> float:
    """Mean over the targets of the comparison of ``voice`` played at each one's note and velocity with it,
    plus :data:`SUBSONIC_WEIGHT` times the share of its energy below :data:`SUBSONIC_HZ` beyond the take's own.

    Args:
        first: the voice's score against the first target alone, already known (a candidate screened on the first
            take): that render is not played again, and the score is the same to the last bit.
    """
    total = 0.0 if first is None else first
    for target in targets[0 if first is None else 1 :]:
        audio = onset_aligned(renderer.render(voice, target.note, target.velocity), renderer.sample_rate)
        played = spectra(audio, renderer.sample_rate)
        if target.log_magnitude is not None:
            total += log_spec_mae(target.log_magnitude, played.log_magnitude)
        if target.mel_db is not None:
            mel = np.maximum(played.mel_db, np.float32(target.mel_floor_db))
            total += float(np.mean(np.abs(mel - target.mel_db))) / MEL_DB_PER_UNIT
            if target.cepstrum is not None:
                total += float(np.mean(np.abs(cepstrum(mel) - target.cepstrum))) / CEPSTRUM_PER_UNIT
        if target.envelope_db is not None:
            envelope = np.maximum(played.envelope_db, np.float32(target.envelope_floor_db))
            total += float(np.mean(np.abs(envelope - target.envelope_db))) / MEL_DB_PER_UNIT
        total += SUBSONIC_WEIGHT * max(0.0, subsonic_share(audio, renderer.sample_rate) - target.subsonic)
    return total / len(targets)


def onset_aligned(render: np.ndarray, sample_rate: int) -> np.ndarray:
    """A render from its onset on, padded with silence to its length: a recording is compared from its onset
    (:mod:`engine.conditioning` trims it so), and so is every voice, or a slow attack would count against a
    voice that plays it exactly."""
    aligned = np.zeros_like(render)
    trimmed = trim_onset(render, sample_rate)
    aligned[: trimmed.size] = trimmed
    return aligned


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
