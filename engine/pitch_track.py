"""A performed note's pitch frame by frame (the tracking half of :mod:`engine.pitch`, which holds the
one-spectrum analysis and the public API): the track (subharmonic summation within
+-:data:`TRACK_RANGE_CENTS` of a reference, which cannot jump octaves), the held note (frames within
:data:`STABLE_CENTS` of the median), its vibrato (a sinusoid plus a line fitted to the held frames) and the
note resampled along its track so that its pitch holds still (:func:`flattened`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import map_coordinates
from scipy.sparse import csr_array

from models.dsp import percentiles, stft_magnitude
from models.render import SAMPLE_RATE as ANALYSIS_RATE  # the rate engine.pitch analyses at

__all__ = ["STABLE_CENTS", "Track", "Vibrato", "flattened", "track_pitch"]

TRACK_FRAMES = ((1024, 150.0), (2048, 75.0), (4096, 0.0))
"""Track frames (samples) and the lowest reference pitch (Hz) each serves: 46 ms from 150 Hz (a +-100-cent
vibrato at 5.5 Hz moves under 160 cents within one), 93 ms and 186 ms below, where partials lie closer."""
TRACK_HOP = 512
TRACK_RANGE_CENTS = 600.0
"""Each frame's pitch is sought within this of the reference: under an octave each side, so the track does not
jump octaves (which octave is the note's is decided on the flattened note, as for a straight one)."""
TRACK_STEP_CENTS = 2.0
TRACK_HARMONICS = 10
TRACK_HARMONIC_WEIGHT = 0.84
"""Subharmonic summation (Hermes 1988): harmonic h of a candidate counts ``0.84 ** (h - 1)``."""
STABLE_CENTS = 150.0
"""Frames within this of the note's median pitch are the held note (a +-100-cent vibrato stays inside);
a glide or a scoop into the note, and a fall off its end, lie outside."""

VIBRATO_HZ = (2.5, 10.0)
VIBRATO_MIN_CENTS = 5.0
VIBRATO_EXPLAINED = 0.5
VIBRATO_MIN_CYCLES = 1.5
"""A vibrato is a sinusoid at 2.5-10 Hz explaining at least half the held pitch's variance (a straight line,
drift or intonation, taken out first), at least 5 cents deep, over at least 1.5 of its cycles."""


@dataclass(frozen=True)
class Vibrato:
    """A note's vibrato: a sinusoidal swing of its pitch around the held note's centre.

    Attributes:
        depth_cents: half the peak-to-peak swing, in cents, once the vibrato is fully in.
        rate_hz: swings per second.
        delay_s: seconds from the note's onset until the swing reaches half its depth (0: from the start).
    """

    depth_cents: float
    rate_hz: float
    delay_s: float = 0.0


@dataclass(frozen=True)
class Track:
    """A note's pitch frame by frame, relative to a reference (any partial's frequency: every partial of a
    harmonic sound moves by the same cents).

    Attributes:
        size: frame length in samples; the frames start at the segment's first sample, :data:`TRACK_HOP` apart.
        cents: pitch per frame relative to the reference.
        held: frames within :data:`STABLE_CENTS` of the note's centre (loud enough, tracked).
        centre: the held pitch's centre in cents, vibrato removed.
        spread: 5th-95th percentile span of the tracked frames' pitch, in cents.
        vibrato: the sinusoid fitted to the held pitch; ``None`` when there is none.
    """

    size: int
    cents: np.ndarray
    held: np.ndarray
    centre: float
    spread: float
    vibrato: Vibrato | None


def _salience_peaks(segment: np.ndarray, size: int, reference_hz: float,
                    max_hz: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each frame of ``size`` samples every :data:`TRACK_HOP` (from the segment's start, not centred): the pitch
    (cents from ``reference_hz``, within +-:data:`TRACK_RANGE_CENTS`) whose harmonics carry the most amplitude
    (subharmonic summation over the frame's Hann spectrum, zero-padded 4x, relative to its strongest bin: a window's
    sidelobes and the noise floor count for little), whether that peak lies inside the range, and the frame's level
    (dB); harmonics count up to ``max_hz``."""
    nfft = 4 * size
    magnitude = stft_magnitude(segment, size, TRACK_HOP, center=False, nfft=nfft)
    strongest = magnitude.max(axis=1, keepdims=True)
    level = 20.0 * np.log10(strongest[:, 0] + 1e-12)
    above = magnitude / np.maximum(strongest, 1e-12)
    grid = np.arange(-TRACK_RANGE_CENTS, TRACK_RANGE_CENTS + TRACK_STEP_CENTS / 2, TRACK_STEP_CENTS)
    f0 = reference_hz * 2.0 ** (grid / 1200.0)
    harmonics = np.arange(1, max(1, min(TRACK_HARMONICS, int(max_hz / f0[-1]))) + 1)
    position = np.minimum(harmonics[:, None] * f0[None, :] * nfft / ANALYSIS_RATE, above.shape[1] - 2)
    low = position.astype(int)
    frac = position - low
    weight = TRACK_HARMONIC_WEIGHT ** (harmonics[:, None] - 1.0)  # each harmonic read between two bins: a sparse
    columns = np.broadcast_to(np.arange(grid.size), low.shape)   # (bins, grid) matrix sums them in one product
    summation = csr_array((np.concatenate([(weight * (1.0 - frac)).ravel(), (weight * frac).ravel()]),
                           (np.concatenate([low.ravel(), low.ravel() + 1]), np.concatenate([columns.ravel()] * 2))),
                          shape=(above.shape[1], grid.size))
    salience = (summation.T @ above.T).T
    best = np.argmax(salience, axis=1)
    inside = (best > 0) & (best < grid.size - 1)
    rows = np.arange(best.size)
    left, centre, right = (salience[rows, np.clip(best + k, 0, grid.size - 1)] for k in (-1, 0, 1))
    curvature = left - 2.0 * centre + right
    offset = np.where(inside & (curvature < 0), 0.5 * (left - right) / np.where(curvature < 0, curvature, -1.0), 0.0)
    return grid[best] + offset * TRACK_STEP_CENTS, inside, level


def _vibrato(times: np.ndarray, cents: np.ndarray) -> tuple[Vibrato | None, np.ndarray]:
    """The sinusoid (rate within :data:`VIBRATO_HZ`) plus a straight line that best fits a pitch track (``times``
    in seconds from the onset), as a :class:`Vibrato` (``None`` when the fit explains less than
    :data:`VIBRATO_EXPLAINED` of the track's variance after the line, the depth is below :data:`VIBRATO_MIN_CENTS`,
    or the track spans under :data:`VIBRATO_MIN_CYCLES` of it), and the sinusoid itself per frame."""
    span = float(times[-1] - times[0]) if times.size else 0.0
    none = (None, np.zeros_like(cents))
    if times.size < 8 or span <= 0:
        return none
    line = np.linalg.qr(np.stack([np.ones_like(times), times - times.mean()], axis=1))[0]  # orthonormal
    residual = cents - line @ (line.T @ cents)
    variance = float(np.sum(residual**2))
    rates = np.arange(VIBRATO_HZ[0], VIBRATO_HZ[1] + 1e-9, 0.05)
    angle = 2 * np.pi * rates[:, None] * times[None, :]
    sinusoids = np.stack([np.sin(angle), np.cos(angle)], axis=2)  # (rates, frames, 2)
    # the sinusoids' coefficients in a fit of line + sinusoids are those of a fit of the line's residual by the
    # sinusoids with the line taken out of them too: one 2x2 least-squares problem per rate, all at once
    basis = sinusoids - np.einsum("fl,rlg->rfg", line, np.einsum("fl,rfg->rlg", line, sinusoids))
    projection = np.einsum("rfg,f->rg", basis, residual)
    coef = np.linalg.solve(np.einsum("rfg,rfh->rgh", basis, basis) + 1e-9 * np.eye(2), projection[..., None])[..., 0]
    explained_by_rate = np.einsum("rg,rg->r", coef, projection)
    best = int(np.argmax(explained_by_rate))
    explained, rate, depth = float(explained_by_rate[best]), float(rates[best]), float(np.hypot(*coef[best]))
    wave = sinusoids[best] @ coef[best]
    if (variance <= 0 or explained < VIBRATO_EXPLAINED * variance or depth < VIBRATO_MIN_CENTS
            or span * rate < VIBRATO_MIN_CYCLES):
        return none
    delay, full_depth = _vibrato_onset(times, residual, rate, depth)
    return Vibrato(round(full_depth, 1), round(rate, 2), round(delay, 2)), wave


def _vibrato_onset(times: np.ndarray, residual: np.ndarray, rate: float, depth: float) -> tuple[float, float]:
    """When a vibrato at ``rate`` comes in, and how deep it is once in: its swing per cycle (the residual
    demodulated over one period around each frame); the delay is the first cycle's centre reaching half of
    ``depth`` (0 when the first cycle does), the depth the median swing from there on."""
    period = 1.0 / rate
    phasor = residual * np.exp(-2j * np.pi * rate * times)
    centres = times[(times - period / 2 >= times[0]) & (times + period / 2 <= times[-1])]
    if centres.size == 0:
        return 0.0, depth
    swing = np.array([2.0 * abs(phasor[np.abs(times - t) <= period / 2].mean()) for t in centres])
    reached = np.flatnonzero(swing >= depth / 2)
    if reached.size == 0 or reached[0] == 0:
        return 0.0, depth
    return float(centres[reached[0]]), max(depth, float(np.median(swing[reached[0]:])))


def track_pitch(segment: np.ndarray, reference_hz: float, *, sounding_db: float, max_hz: float) -> Track | None:
    """The pitch of ``segment`` frame by frame around ``reference_hz``; ``None`` when it is too short to track.

    Args:
        segment: mono audio at :data:`ANALYSIS_RATE` from the note's onset.
        reference_hz: the pitch found (any of its partials' frequencies).
        sounding_db: frames this far below the loudest are not tracked.
        max_hz: harmonics are summed up to this frequency.
    """
    size = next(size for size, lowest_hz in TRACK_FRAMES if reference_hz >= lowest_hz)
    if segment.size < size + 8 * TRACK_HOP:
        return None
    cents, inside, level = _salience_peaks(segment, size, reference_hz, max_hz)
    tracked = inside & (level >= level.max() - sounding_db)
    if tracked.sum() < 8:
        return None
    first = np.median(cents[tracked])
    held = tracked & (np.abs(cents - first) <= STABLE_CENTS)
    times = (np.arange(cents.size) * TRACK_HOP + size / 2) / ANALYSIS_RATE
    vibrato, wave = _vibrato(times[held], cents[held])
    centre = float(np.median(cents[held] - wave))
    high, low = percentiles(cents[tracked], (95, 5)).values()
    spread = high - low
    return Track(size, cents, held, centre, spread, vibrato)


def flattened(segment: np.ndarray, track: Track) -> np.ndarray:
    """The held part of ``segment`` resampled along its pitch track so that its pitch stays at the track's centre:
    vibrato, drift and the end of a glide no longer smear its partials, which lie where the centre puts them."""
    held = np.flatnonzero(track.held)
    start, stop = held[0] * TRACK_HOP, held[-1] * TRACK_HOP + track.size
    piece = segment[start:stop]
    centres = (held - held[0]) * TRACK_HOP + track.size / 2
    ratio = np.interp(np.arange(piece.size), centres, 2.0 ** ((track.cents[held] - track.centre) / 1200.0))
    warped_time = np.concatenate([[0.0], np.cumsum(ratio[:-1])])  # the phase of a partial advances by ratio per sample
    positions = np.interp(np.arange(int(warped_time[-1]) + 1), warped_time, np.arange(piece.size))
    return map_coordinates(piece, positions[None, :], order=3, mode="nearest")
