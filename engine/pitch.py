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
   partial is loudest; unless the pitch heard is higher: a higher candidate whose harmonics carry
   nearly all that energy (:data:`HEARD_ENERGY`), with no partial above it off its harmonics (a weak
   sub-partial under a loud partial does not set the pitch; an oboe's weak odd harmonics do);
4. the sound is unpitched when it is silent, when no candidate explains :data:`HARMONICITY_MIN`
   of the partials ("inharmonic"; "noise" for a flat spectrum), or when it is shorter than
   :data:`MIN_SOUNDING_SECONDS` or its pitch does not hold over the segment ("no stable pitch":
   clicks, drum hits, glides).

Performed notes (sung, bowed, blown: vibrato up to +-100 cents, drift, a glide into the note, an
ensemble's spread) smear or split the partials of one long spectrum. So the first
:data:`TRACK_SECONDS` are also tracked frame by frame (:mod:`engine.pitch_track`: subharmonic summation within
+-:data:`~engine.pitch_track.TRACK_RANGE_CENTS` of the pitch found, which cannot jump octaves); the frames within
:data:`STABLE_CENTS` of the median are the held note, a sinusoid plus a line fitted to them is the
vibrato (depth and rate, reported), and the held note's centre is refitted to the partials of the note
resampled along its track (flattened, its partials sharp again). A note steps 1-4 call unpitched is
read frame by frame first (:func:`_framewise`: the existing estimate on short frames, their median):
pitched when most frames agree. A note that holds still keeps the one-spectrum answer. A search's quick reading
of a voice (:func:`voice_f0` unchecked) plays it held still (:func:`held_still`: no pitch envelope, no LFO pitch
modulation): nothing moves to track, and its one-spectrum answer stands where steps 1-4 find one.

Measured by ``scripts/measure_pitch.py`` (corpus renders of known pitch, sampled instruments, performed
notes from ``scripts/render_performed_notes.py``). :func:`heard_f0` checks an estimate with an independent
neural tracker (:mod:`engine.neural_pitch`, loaded there) when the loudest partial is not the fundamental;
:func:`voice_f0` renders a voice and hears the render. Imports numpy, scipy, soxr, :mod:`models` and engine helpers only.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import soxr
from scipy.signal import find_peaks
from scipy.signal.windows import blackmanharris

from engine.audio_input import check_rate, to_mono
from engine.pitch_track import STABLE_CENTS, Vibrato, flattened, track_pitch
from models.dsp import ONSET_DB, frame_rms, onset_sample
from models.errors import ModelInputError
from models.params import BY_NAME
from models.render import SAMPLE_RATE, Renderer
from models.voice import Voice

__all__ = ["PITCH_RENDER_SECONDS", "F0Estimate", "Vibrato", "cents", "estimate_f0", "heard_f0", "held_still", "pitch_renderer",
           "voice_f0"]

ANALYSIS_RATE = SAMPLE_RATE
"""Audio at another rate is resampled to this rate (soxr) before analysis."""
SEGMENT_SECONDS = 0.5
"""Seconds after the onset that are analysed."""
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
HEARD_ENERGY = 0.93
"""A higher candidate is the pitch heard instead when its harmonics carry this share of the energy the
answer's carry and no partial above it lies off its harmonics (stronger than :data:`DENSITY_WEIGHT`): a weak
sub-partial under loud partials does not set the pitch (YIN-type trackers switch at about 5 % of the energy),
while weak partials between a loud partial's harmonics (an oboe's odd harmonics under its loud second) do."""
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
MIN_FRAMES = 4
"""A note heard frame by frame needs this many :data:`FRAME`-sample frames that fit one f0 (0.23 s)."""
FRAME_LOW_HARMONICS = 2
"""A short frame resolves few partials, and a bar's inharmonic ones then fit a low f0 by chance (a glockenspiel's
loud partial as its 4th harmonic): frame by frame, a candidate needs strong partials on at least two of its
harmonics 1-4 (sung, bowed and blown notes have most of them)."""
CENTRE_SHIFT_CENTS = 100.0
"""A track whose centre lies further than this from a pitch read off one spectrum lost the note: the spectrum's stands."""
REFIT_CENTS = 20.0
"""The centre refitted to the flattened note's partials must stay this close to the track's."""
TRACK_SECONDS = 1.0
"""Seconds after the onset over which the pitch is also tracked frame by frame: three cycles of a 3 Hz vibrato, and
no more than a 1 s render of a voice holds (:func:`voice_f0`'s render gives the 4 s render's answer)."""
MODULATION_CENTS = 15.0
"""A note whose tracked pitch spans more than this (5th to 95th percentile) is analysed flattened along its track."""


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
        vibrato: the vibrato heard over the held note; ``None`` when there is none.
        ambiguous: for a sound the partials and the neural tracker hear apart (:func:`heard_f0`),
            both: (partials' f0, neural tracker's f0) in Hz; ``None`` otherwise.
    """

    f0_hz: float | None
    voiced_fraction: float
    harmonicity: float
    reason: str = ""
    vibrato: Vibrato | None = None
    ambiguous: tuple[float, float] | None = None

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


@dataclass(frozen=True)
class _Partials:
    """Spectral peaks of a segment: frequencies (Hz), amplitudes relative to the strongest, the
    analysis resolution (Hz per bin) and the spectral flatness (0 for tones, ~0.56 for white noise)."""

    freqs: np.ndarray
    weights: np.ndarray
    resolution: float
    flatness: float


@functools.lru_cache(maxsize=8)
def _window(size: int) -> np.ndarray:
    """The Blackman-Harris window of ``size`` samples, made once (a frame's analysis is a few times its FFT)."""
    window = blackmanharris(size)
    window.flags.writeable = False
    return window


def _partials(segment: np.ndarray) -> _Partials:
    """The partials of a segment, from one Blackman-Harris spectrum zero-padded 4x."""
    size = max(segment.size, FRAME)
    nfft = 1 << math.ceil(math.log2(4 * size))
    spectrum = np.abs(np.fft.rfft(np.pad(segment, (0, size - segment.size)) * _window(size), nfft))
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


@dataclass(frozen=True)
class _Fit:
    """How well each candidate f0 explains the partials (arrays, one value per candidate).

    Attributes:
        share: share of the partials' amplitude on its harmonics 1 to :data:`MAX_HARMONIC`.
        refit: the candidate refitted to those partials (weighted least squares).
        density: share of the harmonic numbers between its lowest and highest strong harmonic
            (amplitude >= :data:`DENSITY_WEIGHT`) that hold one (see :data:`DENSITY_MIN`).
        energy: share of the partials' energy on its harmonics.
        stray: amplitude of the strongest partial above the candidate and off its harmonics.
        low: how many of its harmonics 1-4 hold a strong partial.
    """

    share: np.ndarray
    refit: np.ndarray
    density: np.ndarray
    energy: np.ndarray
    stray: np.ndarray
    low: np.ndarray


def _harmonicity(f0: np.ndarray, partials: _Partials) -> _Fit:
    """How well each candidate f0 explains the partials."""
    freqs, weights = partials.freqs, partials.weights
    ratio = freqs[None, :] / f0[:, None]
    harmonic = np.round(ratio)
    on = (harmonic >= 1) & (harmonic <= MAX_HARMONIC) & (np.abs(ratio - harmonic) <= TOLERANCE)
    w = weights[None, :] * on
    total, total_energy = float(weights.sum()), float(np.sum(weights**2))
    share = w.sum(axis=1) / total if total > 0 else np.zeros(f0.size)  # partials of zero weight: nothing explained
    energy = (w**2).sum(axis=1) / total_energy if total_energy > 0 else np.zeros(f0.size)
    denominator = (w * harmonic**2).sum(axis=1)
    refit = np.where(denominator > 0, (w * harmonic * freqs[None, :]).sum(axis=1) / np.maximum(denominator, 1e-30), f0)
    slots = np.zeros((f0.size, MAX_HARMONIC + 1), bool)
    rows, cols = np.nonzero(on & (weights >= DENSITY_WEIGHT)[None, :])
    slots[rows, harmonic[rows, cols].astype(int)] = True
    number = np.arange(MAX_HARMONIC + 1)
    span = np.where(slots, number, -1).max(axis=1) - np.where(slots, number, MAX_HARMONIC + 1).min(axis=1) + 1
    density = slots.sum(axis=1) / np.maximum(span, 1)
    stray = (weights[None, :] * (~on & (ratio > 1.0 + TOLERANCE))).max(axis=1, initial=0.0)
    return _Fit(share, refit, density, energy, stray, slots[:, 1:5].sum(axis=1))


def _best_f0(partials: _Partials, low_min: int = 0) -> tuple[float | None, float]:
    """The f0 heard and the best candidate's share: the highest f0 whose harmonics explain about as much as
    the best candidate's, unless a higher one is heard instead (:data:`HEARD_ENERGY`); candidates with fewer
    than ``low_min`` strong partials on their harmonics 1-4 are out."""
    if partials.freqs.size == 0:
        return None, 0.0
    seeds = partials.freqs[np.argsort(partials.weights)[-SEED_PEAKS:]]
    candidates = np.concatenate([seed / np.arange(1, max(1, int(seed / FMIN_HZ)) + 1) for seed in seeds])
    candidates = candidates[(candidates >= FMIN_HZ) & (candidates <= FMAX_HZ)]
    if candidates.size == 0:
        return None, 0.0
    refit = _harmonicity(candidates, partials).refit
    refit = refit[(refit >= FMIN_HZ) & (refit <= FMAX_HZ)]
    if refit.size == 0:
        return None, 0.0
    fit = _harmonicity(refit, partials)
    dense = (fit.density >= DENSITY_MIN) & (fit.low >= low_min)
    share = np.where(dense, fit.share, 0.0)
    good = share >= share.max() - MARGIN
    lowest = int(np.flatnonzero(good)[np.argmax(refit[good])])
    heard = (dense & (refit > refit[lowest] * 2.0 ** (1.0 / 12.0)) & (fit.energy >= HEARD_ENERGY * fit.energy[lowest])
             & (fit.stray < DENSITY_WEIGHT))
    answer = refit[heard].max() if heard.any() else refit[lowest]
    return float(answer), float(share.max())


def _sounding(segment: np.ndarray) -> np.ndarray:
    """The segment up to its last frame within :data:`SOUNDING_DB` of its loudest."""
    rms = frame_rms(segment, 512, 256, fill=True)
    last = int(np.flatnonzero(rms >= rms.max() * 10.0 ** (-SOUNDING_DB / 20.0))[-1])
    return segment[: (last + 1) * 256]


def _voiced_fraction(segment: np.ndarray, f0: float) -> float:
    """Share of the windows over the segment whose partials lie on the harmonics of f0 (a glide's
    windows do not)."""
    starts = range(0, max(1, segment.size - VOICED_WINDOW + 1), VOICED_HOP)
    voiced = []
    for start in starts:
        fit = _harmonicity(np.array([f0]), _partials(segment[start : start + VOICED_WINDOW]))
        voiced.append(fit.share[0] >= HARMONICITY_MIN or fit.energy[0] >= HEARD_ENERGY)
    return float(np.mean(voiced))


def _analyse(segment: np.ndarray, partials: _Partials) -> F0Estimate:
    """The f0 of a sounding segment read off one spectrum of its partials (steps 1-4 of the module's description)."""
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


def _note(mono: np.ndarray, seconds: float) -> np.ndarray:
    """Up to ``seconds`` of audio from its onset (the first sample within :data:`ONSET_DB` of the peak), cut where
    it has died away (:func:`_sounding`)."""
    onset = onset_sample(mono, ONSET_DB)
    return _sounding(mono[onset : onset + round(seconds * ANALYSIS_RATE)])


def _framewise(segment: np.ndarray) -> F0Estimate | None:
    """The f0 of a note whose partials one spectrum cannot resolve (vibrato smears them, an ensemble splits
    them): the median of the f0s of its :data:`FRAME`-sample frames (half a frame apart) whose partials fit one
    (:data:`HARMONICITY_MIN`, :data:`FRAME_LOW_HARMONICS` unless the frame holds a single partial: a sine),
    their median share, and the share
    of all frames that fit within :data:`STABLE_CENTS` of it; ``None`` with fewer than :data:`MIN_FRAMES` that fit,
    or fewer than :data:`VOICED_MIN` of the frames (its share held could not reach it: noise stops there)."""
    starts = range(0, segment.size - FRAME + 1, FRAME // 2)
    needed = max(MIN_FRAMES, math.ceil(VOICED_MIN * len(starts)))
    fitting = []
    for number, start in enumerate(starts):
        if len(fitting) + len(starts) - number < needed:
            return None
        partials = _partials(segment[start : start + FRAME])
        f0, share = _best_f0(partials, FRAME_LOW_HARMONICS if np.sum(partials.weights >= DENSITY_WEIGHT) > 1 else 1)
        if f0 is not None and share >= HARMONICITY_MIN:
            fitting.append((f0, share))
    if len(fitting) < needed:
        return None
    f0s, shares = np.array(fitting).T
    f0 = float(np.exp(np.median(np.log(f0s))))
    held = np.abs(1200.0 * np.log2(f0s / f0)) <= STABLE_CENTS
    return F0Estimate(f0, float(held.sum() / len(starts)), float(np.median(shares)))


def estimate_f0(audio: np.ndarray, sample_rate: int) -> F0Estimate:
    """The f0 of one note: any mono or (samples, channels) recording or render, from its onset; a note
    with vibrato, drift or a glide into it gets its held pitch's centre, and the vibrato heard.

    Raises:
        ModelInputError: empty audio, NaN/inf samples, a bad shape or sample rate.
    """
    return _estimate(_mono(audio, sample_rate))[0]


def _estimate(mono: np.ndarray, tracked: bool = True) -> tuple[F0Estimate, _Partials | None]:
    """:func:`estimate_f0` of mono audio at :data:`ANALYSIS_RATE`, and the partials of its note's one spectrum
    (``None`` when it is silent); ``tracked=False``: a pitched one-spectrum answer stands untracked."""
    peak = float(np.abs(mono).max())
    rms = frame_rms(mono, FRAME, HOP, fill=True)
    if peak == 0.0 or 20.0 * math.log10(max(float(rms.max()), 1e-12)) < SILENCE_DB:
        return F0Estimate(None, 0.0, 0.0, "unpitched: silent"), None
    segment = _note(mono, SEGMENT_SECONDS)
    partials = _partials(segment)
    straight = _analyse(segment, partials)
    if straight.pitched and not tracked:
        return straight, partials
    sounding = _note(mono, TRACK_SECONDS)
    pitched = straight if straight.pitched else _framewise(sounding)
    if pitched is None or pitched.voiced_fraction < VOICED_MIN:
        return straight, partials
    track = track_pitch(sounding, pitched.f0_hz, sounding_db=SOUNDING_DB, max_hz=MAX_PEAK_HZ)
    if track is None or track.held.mean() < VOICED_MIN:
        return straight, partials
    if straight.pitched and (track.spread <= MODULATION_CENTS or abs(track.centre) > CENTRE_SHIFT_CENTS):
        return straight, partials
    centre = pitched.f0_hz * 2.0 ** (track.centre / 1200.0)  # the octave stands; the centre is refitted to the
    refit = float(_harmonicity(np.array([centre]), _partials(flattened(sounding, track))).refit[0])  # flattened note
    return replace(pitched, f0_hz=refit if abs(cents(refit, centre)) <= REFIT_CENTS else centre,
                   vibrato=track.vibrato), partials


def heard_f0(audio: np.ndarray, sample_rate: int, checked: bool = True, tracked: bool = True) -> F0Estimate:
    """:func:`estimate_f0`, checked by an independent neural tracker (:func:`engine.neural_pitch.disagreement`)
    when the loudest partial is not the fundamental: a sound the two hear a semitone or more apart (a weak
    sub-partial taken for the fundamental, an inharmonic voice) is unpitched ("unpitched: ambiguous ...").
    ``checked=False``: the partials' estimate alone (:func:`estimate_f0`, a third of the time on a sound whose
    loudest partial is not its fundamental). ``tracked=False``: for a sound whose pitch does not move, a pitched
    one-spectrum answer stands without the frame-by-frame track.

    Raises:
        ModelInputError: empty audio, NaN/inf samples, a bad shape or sample rate.
    """
    estimate, partials = _estimate(_mono(audio, sample_rate), tracked)
    if estimate.f0_hz is None or partials is None or partials.freqs.size == 0:
        return estimate
    if not checked or partials.freqs[np.argmax(partials.weights)] < 1.5 * estimate.f0_hz:
        return estimate  # unchecked, or its loudest partial is its fundamental: nothing else to hear
    from engine.neural_pitch import disagreement  # torch and CREPE load where a sound is checked

    heard = disagreement(estimate.f0_hz, audio, sample_rate)
    if heard is None:
        return estimate
    return F0Estimate(None, estimate.voiced_fraction, estimate.harmonicity, f"unpitched: ambiguous (the partials say "
                      f"{estimate.f0_hz:.1f} Hz, a neural tracker hears {heard:.1f} Hz)", ambiguous=(estimate.f0_hz, heard))


PITCH_RENDER_SECONDS = 1.0
"""How long a voice is held and rendered to read its f0 (:func:`pitch_renderer`): the f0 is read off its first half
second after the onset."""


def pitch_renderer(sample_rate: int) -> Renderer:
    """A renderer for :func:`voice_f0`, :data:`PITCH_RENDER_SECONDS` long."""
    return Renderer(sample_rate, PITCH_RENDER_SECONDS, PITCH_RENDER_SECONDS)


def held_still(voice: Voice) -> Voice:
    """``voice`` with its pitch held where it sustains: its pitch envelope's four levels at the sustain level
    (level 3) and no LFO pitch modulation. Every DX7 LFO wave swings the pitch around the note, so the voice held
    still plays the centre a listener hears in its vibrato, and the pitch its envelope settles on."""
    sustain = voice["pitch_eg_level3"]
    return voice.replace({BY_NAME["lfo_pm_depth"].index: 0,
                          **{BY_NAME[f"pitch_eg_level{stage}"].index: sustain for stage in range(1, 5)}})


def voice_f0(voice: Voice, render: Renderer | RenderFn, note: int = 60, velocity: int = 85,
             sample_rate: int | None = None, checked: bool = True) -> F0Estimate:
    """The f0 of a voice played at ``note`` as a listener hears it: render it, then :func:`heard_f0`.

    Args:
        voice: the voice.
        render: a :class:`models.render.Renderer` (its rate is used), or any callable
            ``(voice, note, velocity) -> mono audio``. One second is enough:
            ``Renderer(note_seconds=1.0, render_seconds=1.0)`` gives the 4 s render's answer.
        note: MIDI note, 60 = middle C.
        velocity: MIDI velocity.
        sample_rate: the callable's output rate (default: the renderer's, else :data:`SAMPLE_RATE`).
        checked: as a listener hears the voice: its own render, a vibrato tracked, with the neural tracker's check
            (:func:`heard_f0`). ``False``: the quick reading of a voice a search tries: the voice held still
            (:func:`held_still`), read off one spectrum where that finds a pitch, unchecked (about half the time; a
            fifth on a voice whose vibrato would be tracked).
    """
    played = voice if checked else held_still(voice)
    if isinstance(render, Renderer):
        rate = sample_rate or render.sample_rate
        audio = render.render(played, note, velocity)
    else:
        rate = sample_rate or SAMPLE_RATE
        audio = render(played, note, velocity)
    return heard_f0(audio, rate, checked, tracked=checked)
