"""The pitch of a recording or of a voice's render, without the octave errors of FM spectra.

An FM spectrum's strongest partial is often not its fundamental, and autocorrelation trackers
(YIN, pYIN) then lock onto a multiple or a sub-multiple of the pitch. :func:`estimate_f0` reads
the pitch off the partials instead:

1. the first :data:`SEGMENT_SECONDS` after the onset, cut where the sound has died away
   (:data:`SOUNDING_DB`), make one Blackman-Harris spectrum; its peaks within :data:`DYNAMIC_DB`
   of the strongest are the partials (parabolically interpolated, peaks closer than
   :data:`MERGE_BINS` bins merged), each weighted by its amplitude;
2. each of the strongest partials divided by 1, 2, 3, ... is a candidate f0 (down to
   :data:`FMIN_HZ`), refitted to the partials on its harmonics (weighted least squares); its
   *harmonicity* is the share of the partials' amplitude on its harmonics 1..:data:`MAX_HARMONIC`
   (within :data:`TOLERANCE` of a whole harmonic number); a candidate whose strong harmonics are
   sparse (:data:`DENSITY_MIN`: a few chance hits high up, as on a bar's inharmonic partials) is out;
3. the answer is the **highest** candidate explaining about as much as the best one (within
   :data:`MARGIN`): a sub-multiple explains every partial its multiple does, so this is the
   greatest common divisor of the partials that matter, the period of an FM tone whatever
   partial is loudest;
4. the sound is unpitched when it is silent, when no candidate explains :data:`HARMONICITY_MIN`
   of the partials ("inharmonic"; "noise" for a flat spectrum), or when it is shorter than
   :data:`MIN_SOUNDING_SECONDS` or its pitch does not hold over the segment ("no stable pitch":
   clicks, drum hits, glides).

Measured by ``scripts/measure_pitch.py`` (corpus renders of known pitch, sampled instruments).
:func:`voice_f0` renders a voice and estimates the render. Imports numpy, scipy, soxr and
:mod:`models` only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import soxr
from scipy.signal import find_peaks
from scipy.signal.windows import blackmanharris

from engine.audio_input import check_rate, to_mono
from models.errors import ModelInputError
from models.render import SAMPLE_RATE, Renderer
from models.voice import Voice

__all__ = ["F0Estimate", "cents", "estimate_f0", "voice_f0"]

ANALYSIS_RATE = SAMPLE_RATE
"""Audio at another rate is resampled to this rate (soxr) before analysis."""
SEGMENT_SECONDS = 0.5
"""Seconds after the onset that are analysed."""
ONSET_DB = -40.0
"""The onset is the first sample within this many dB of the peak."""
SILENCE_DB = -60.0
"""Loudest frame RMS (dB re full scale) below which the audio is silent."""
SOUNDING_DB = 30.0
"""The analysed segment ends where the level falls this far below its loudest frame."""
MIN_SOUNDING_SECONDS = 0.04
MIN_PERIODS = 8
"""A sound shorter than :data:`MIN_SOUNDING_SECONDS` or than this many periods of its f0 (a click, a kick
drum's thump) has no stable pitch; a short high pluck (a DX7 guitar at C6 decays 30 dB in 0.1 s) has one."""
FMIN_HZ = 30.0
FMAX_HZ = 4200.0
"""Range of f0 answers (C2-C6 voices with ratios 0.5-4 sound within it)."""
MAX_PEAK_HZ = 8000.0
"""Partials above this are ignored (few pitch cues; aliasing in renders of high notes)."""
DYNAMIC_DB = 50.0
"""Partials more than this below the strongest are ignored."""
PROMINENCE_DB = 6.0
"""A spectral peak must stand this far above its surroundings to be a partial."""
MERGE_BINS = 5.0
"""Peaks closer than this many analysis bins (at most FMIN_HZ / 2) are one partial (FM sidebands of a decaying index
split a partial in two; vibrato smears it)."""
MAX_PEAKS = 40
"""The strongest this many partials are scored."""
SEED_PEAKS = 8
"""The strongest this many partials seed candidate f0s (each divided by 1, 2, 3, ...)."""
TOLERANCE = 0.05
"""A partial lies on a harmonic when its frequency / f0 is within this of a whole number."""
MAX_HARMONIC = 40
"""Partials above this harmonic of a candidate do not count for it (aliased partials of high notes
otherwise make a far sub-multiple look harmonic)."""
DENSITY_MIN = 0.25
"""A candidate's strong harmonics (amplitude >= :data:`DENSITY_WEIGHT`) must fill at least this
share of the harmonic numbers between its lowest and highest one."""
DENSITY_WEIGHT = 0.03
MARGIN = 0.04
"""Candidates explaining within this share of the best are equally good; the highest wins."""
HARMONICITY_MIN = 0.65
"""Below this share of partial amplitude on the harmonics of any f0, the sound is inharmonic."""
NOISE_FLATNESS = 0.1
"""Spectral flatness above which an inharmonic sound is called noise."""
VOICED_MIN = 0.5
"""Share of the analysis windows whose partials must lie on the f0's harmonics."""
VOICED_WINDOW, VOICED_HOP = 4096, 2048
"""Windows (samples) checked for a stable pitch."""
FRAME, HOP = 2048, 512
"""Shortest spectrum (samples) and the level meter's frames."""


@dataclass(frozen=True)
class F0Estimate:
    """The pitch of a sound.

    Attributes:
        f0_hz: the fundamental in Hz; ``None`` when the sound is unpitched.
        voiced_fraction: share of the analysis windows (:data:`VOICED_WINDOW` samples) over the
            sounding segment whose partials lie on the harmonics of f0 (0-1; 0 when no f0 was found).
        harmonicity: share of the spectral partials' weight lying on the harmonics of the best
            f0 (0-1): the confidence; near 1 for harmonic sounds, low for bells, drums, noise.
        reason: why the sound is unpitched ("unpitched: inharmonic", "unpitched: noise",
            "unpitched: no stable pitch", "unpitched: silent"); empty when pitched.
    """

    f0_hz: float | None
    voiced_fraction: float
    harmonicity: float
    reason: str = ""

    @property
    def pitched(self) -> bool:
        """True when the sound has an f0."""
        return self.f0_hz is not None


RenderFn = Callable[[Voice, int, int], np.ndarray]
"""Renders ``(voice, note, velocity)`` to mono audio."""


def cents(a_hz: float, b_hz: float) -> float:
    """The interval from ``b_hz`` up to ``a_hz`` in cents (positive when ``a_hz`` is higher).

    Raises:
        ModelInputError: a frequency that is not a positive finite number.
    """
    for name, value in (("a_hz", a_hz), ("b_hz", b_hz)):
        if not (isinstance(value, int | float | np.number) and math.isfinite(value) and value > 0):
            raise ModelInputError(f"{name} = {value!r}: a frequency must be a positive number of Hz")
    return 1200.0 * math.log2(float(a_hz) / float(b_hz))


def _mono(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Finite float64 mono audio at :data:`ANALYSIS_RATE`; refuses what cannot be analysed."""
    check_rate(sample_rate)
    mono = to_mono(audio)
    if sample_rate != ANALYSIS_RATE:
        mono = soxr.resample(mono, sample_rate, ANALYSIS_RATE, quality="HQ")
    return mono


def _frame_rms(audio: np.ndarray, frame: int, hop: int) -> np.ndarray:
    """RMS of centred frames (as ``librosa.feature.rms(center=True)``, zero-padded)."""
    padded = np.pad(audio, (frame // 2, frame // 2 + max(0, frame - audio.size)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, frame)[::hop]
    return np.sqrt(np.mean(frames**2, axis=1))


@dataclass(frozen=True)
class _Partials:
    """Spectral peaks of a segment: frequencies (Hz), amplitudes relative to the strongest, the
    analysis resolution (Hz per bin) and the spectral flatness (0 for tones, ~0.56 for white noise)."""

    freqs: np.ndarray
    weights: np.ndarray
    resolution: float
    flatness: float


def _partials(segment: np.ndarray) -> _Partials:
    """The partials of a segment, from one Blackman-Harris spectrum zero-padded 4x."""
    size = max(segment.size, FRAME)
    nfft = 1 << math.ceil(math.log2(4 * size))
    spectrum = np.abs(np.fft.rfft(np.pad(segment, (0, size - segment.size)) * blackmanharris(size), nfft))
    power = spectrum**2 + 1e-30
    band = slice(round(FMIN_HZ * nfft / ANALYSIS_RATE), round(MAX_PEAK_HZ * nfft / ANALYSIS_RATE))
    flatness = float(np.exp(np.mean(np.log(power[band]))) / np.mean(power[band]))
    db = 10.0 * np.log10(power)
    index, _ = find_peaks(db[band], height=db[band].max() - DYNAMIC_DB, prominence=PROMINENCE_DB)
    index = index + band.start
    index = index[(index > 0) & (index < db.size - 1)]
    if index.size > MAX_PEAKS:
        index = index[np.argsort(db[index])[-MAX_PEAKS:]]
    index = np.sort(index)
    left, centre, right = db[index - 1], db[index], db[index + 1]
    curvature = left - 2 * centre + right
    offset = np.where(curvature < 0, 0.5 * (left - right) / np.where(curvature < 0, curvature, -1.0), 0.0)
    freqs = (index + offset) * ANALYSIS_RATE / nfft
    power_peak = 10.0 ** ((centre - 0.25 * (left - right) * offset) / 10.0)
    resolution = ANALYSIS_RATE / size
    if freqs.size > 1:  # merge peaks closer than MERGE_BINS: power-weighted frequency, summed power
        cluster = np.concatenate([[0], np.cumsum(np.diff(freqs) > min(MERGE_BINS * resolution, FMIN_HZ / 2))])
        total = np.bincount(cluster, power_peak)
        freqs, power_peak = np.bincount(cluster, power_peak * freqs) / total, total
    weights = np.sqrt(power_peak / power_peak.max()) if freqs.size else power_peak
    return _Partials(freqs, weights, resolution, flatness)


def _harmonicity(f0: np.ndarray, partials: _Partials) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each candidate f0: the share of the partials' amplitude on its harmonics (1 to
    :data:`MAX_HARMONIC`), the candidate refitted to those partials (weighted least squares), and
    the density of its strong harmonics (see :data:`DENSITY_MIN`)."""
    freqs, weights = partials.freqs, partials.weights
    ratio = freqs[None, :] / f0[:, None]
    harmonic = np.round(ratio)
    on = (harmonic >= 1) & (harmonic <= MAX_HARMONIC) & (np.abs(ratio - harmonic) <= TOLERANCE)
    w = weights[None, :] * on
    total = float(weights.sum())
    share = w.sum(axis=1) / total if total > 0 else np.zeros(f0.size)  # partials of zero weight: nothing explained
    denominator = (w * harmonic**2).sum(axis=1)
    refit = np.where(denominator > 0, (w * harmonic * freqs[None, :]).sum(axis=1) / np.maximum(denominator, 1e-30), f0)
    slots = np.zeros((f0.size, MAX_HARMONIC + 1), bool)
    rows, cols = np.nonzero(on & (weights >= DENSITY_WEIGHT)[None, :])
    slots[rows, harmonic[rows, cols].astype(int)] = True
    number = np.arange(MAX_HARMONIC + 1)
    span = np.where(slots, number, -1).max(axis=1) - np.where(slots, number, MAX_HARMONIC + 1).min(axis=1) + 1
    density = slots.sum(axis=1) / np.maximum(span, 1)
    return share, refit, density


def _best_f0(partials: _Partials) -> tuple[float | None, float]:
    """The highest f0 whose harmonics explain about as much as the best candidate's, and the best share."""
    if partials.freqs.size == 0:
        return None, 0.0
    seeds = partials.freqs[np.argsort(partials.weights)[-SEED_PEAKS:]]
    candidates = np.concatenate([seed / np.arange(1, max(1, int(seed / FMIN_HZ)) + 1) for seed in seeds])
    candidates = candidates[(candidates >= FMIN_HZ) & (candidates <= FMAX_HZ)]
    if candidates.size == 0:
        return None, 0.0
    _, refit, _ = _harmonicity(candidates, partials)
    refit = refit[(refit >= FMIN_HZ) & (refit <= FMAX_HZ)]
    if refit.size == 0:
        return None, 0.0
    share, _, density = _harmonicity(refit, partials)
    share = np.where(density >= DENSITY_MIN, share, 0.0)
    good = share >= share.max() - MARGIN
    return float(refit[good].max()), float(share.max())


def _sounding(segment: np.ndarray) -> np.ndarray:
    """The segment up to its last frame within :data:`SOUNDING_DB` of its loudest."""
    rms = _frame_rms(segment, 512, 256)
    last = int(np.flatnonzero(rms >= rms.max() * 10.0 ** (-SOUNDING_DB / 20.0))[-1])
    return segment[: (last + 1) * 256]


def _voiced_fraction(segment: np.ndarray, f0: float) -> float:
    """Share of the windows over the segment whose partials lie on the harmonics of f0 (a glide's
    windows do not)."""
    starts = range(0, max(1, segment.size - VOICED_WINDOW + 1), VOICED_HOP)
    voiced = [_harmonicity(np.array([f0]), _partials(segment[start : start + VOICED_WINDOW]))[0][0]
              >= HARMONICITY_MIN for start in starts]
    return float(np.mean(voiced))


def estimate_f0(audio: np.ndarray, sample_rate: int) -> F0Estimate:
    """The f0 of one note: any mono or (samples, channels) recording or render, from its onset.

    Raises:
        ModelInputError: empty audio, NaN/inf samples, a bad shape or sample rate.
    """
    mono = _mono(audio, sample_rate)
    peak = float(np.abs(mono).max())
    rms = _frame_rms(mono, FRAME, HOP)
    if peak == 0.0 or 20.0 * math.log10(max(float(rms.max()), 1e-12)) < SILENCE_DB:
        return F0Estimate(None, 0.0, 0.0, "unpitched: silent")
    onset = int(np.argmax(np.abs(mono) >= peak * 10.0 ** (ONSET_DB / 20.0)))
    segment = _sounding(mono[onset : onset + round(SEGMENT_SECONDS * ANALYSIS_RATE)])
    partials = _partials(segment)
    f0, share = _best_f0(partials)
    shortest = max(MIN_SOUNDING_SECONDS, MIN_PERIODS / f0 if f0 else 0.0)
    if segment.size < shortest * ANALYSIS_RATE:
        return F0Estimate(None, 0.0, share, "unpitched: no stable pitch")
    if f0 is None or share < HARMONICITY_MIN:
        reason = "unpitched: noise" if partials.flatness > NOISE_FLATNESS else "unpitched: inharmonic"
        return F0Estimate(None, 0.0, share, reason)
    voiced = _voiced_fraction(segment, f0)
    if voiced < VOICED_MIN:
        return F0Estimate(None, voiced, share, "unpitched: no stable pitch")
    return F0Estimate(f0, voiced, share)


def voice_f0(voice: Voice, render: Renderer | RenderFn, note: int = 60, velocity: int = 85,
             sample_rate: int | None = None) -> F0Estimate:
    """The f0 of a voice played at ``note``: render it, then :func:`estimate_f0`.

    Args:
        voice: the voice.
        render: a :class:`models.render.Renderer` (its rate is used), or any callable
            ``(voice, note, velocity) -> mono audio``. One second is enough:
            ``Renderer(note_seconds=1.0, render_seconds=1.0)`` gives the 4 s render's answer.
        note: MIDI note, 60 = middle C.
        velocity: MIDI velocity.
        sample_rate: the callable's output rate (default: the renderer's, else :data:`SAMPLE_RATE`).
    """
    if isinstance(render, Renderer):
        rate = sample_rate or render.sample_rate
        audio = render.render(voice, note, velocity)
    else:
        rate = sample_rate or SAMPLE_RATE
        audio = render(voice, note, velocity)
    return estimate_f0(audio, rate)
