"""Input conditioning: any recording -> the model's input, with its pitch and level handled.

The model was trained on dexed-py renders: 22 050 Hz, mono, the note starting at sample 0 and
held 3 s of a 4 s window, each note of the model's note set rendered at its own pitch, at the
level dexed-py plays (peaks from about -12 to +12 dB re full scale; Dexed's output can exceed
1.0). :class:`Conditioner` brings any audio there:

1. refuse empty, NaN/inf and silent audio with a typed error; steady noise without pitch is answered
   like any sound (some DX7 voices are just that), with a note saying so;
2. mix down to mono, resample to the model rate (soxr), drop the silence before the onset;
3. level: the front end sees absolute dB, and the model reads operator output levels from
   them, so audio whose peak lies inside the training peak range is left exactly as it is (a
   dexed-py render goes through untouched); a louder or quieter recording is scaled to the
   nearest end of that range (:data:`PEAK_RANGE_DB`) rather than to one fixed level;
4. pitch: f0 read off the partials (:func:`engine.pitch.estimate_f0`, no octave errors; a sung or bowed note's
   centre, its vibrato and any glide into it left out). The audio is shifted down
   by whole semitones (resampling) to the C at or below its pitch (C2-C6, the octaves in which corpus voices sound
   at note 60: the network picks the octave through its frequency ratios), so the network hears
   a note it was trained on; the voice's transpose is set to the semitones removed, so the voice
   played at the reference note (MIDI 60) sounds at the input's pitch (the engine then measures the
   voice itself and tunes it: :mod:`engine.tuning`). An unpitched input (drums, clicks, bells with no
   clear f0) is left where it is. A multi-note model gets one shifted copy per note;
5. trim or zero-pad to the model window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import soxr

from engine.audio_input import check_rate, to_mono
from engine.pitch import F0Estimate, Vibrato, estimate_f0, heard_f0
from models.dsp import ONSET_DB, frame_rms_db, percentiles, spectral_flatness, stft_magnitude, trim_onset
from models.errors import SilentInputError
from models.params import BY_INDEX, TRANSPOSE_CENTRE, TRANSPOSE_INDEX
from models.render import Note

__all__ = [
    "PEAK_RANGE_DB",
    "REFERENCE_NOTE",
    "SILENCE_DB",
    "Conditioned",
    "Conditioner",
    "plan_transpose",
    "to_mono",
]

REFERENCE_NOTE = 60
"""MIDI note the voice is tuned against: the note of the paper's single-note renders (C4)."""
SILENCE_DB = -60.0
"""Loudest frame RMS (dB re full scale) below which input is silent: the corpus's threshold
(``dexbridge corpus build --silence-db``)."""
PEAK_RANGE_DB = (-12.0, 12.0)
"""Sample peaks (dB re full scale) of the training renders, 1st to 99th percentile (400 voices of
the train split at (60, 85): -12.5 / +12.0 dB, median +2.9 dB). Input peaking inside is not scaled."""
FRAME, HOP = 2048, 512
NOISE_FLATNESS = 0.02  # broadband noise (white ~0.56, pink ~0.035; DX7 renders: median 0.0, 95th pct 0.006)
NOISE_STEADY_DB = 6.0  # frame RMS spread (5th-95th pct) of audio without note shape
NOISE_MIN_SECONDS = 0.5  # shorter sounds (a click, a hit) are notes, not steady noise
FOLD_RANGE = (36, 84)  # C2..C6: octaves at which corpus voices sound at note 60
_TRANSPOSE = BY_INDEX[TRANSPOSE_INDEX]
TRANSPOSE_RANGE = (_TRANSPOSE.lo - TRANSPOSE_CENTRE, _TRANSPOSE.hi - TRANSPOSE_CENTRE)  # -24..+24 semitones


@dataclass(frozen=True)
class TransposePlan:
    """How the input is pitch-normalised and the voice transposed.

    Attributes:
        shift: whole semitones the reference channel's audio is shifted by (the residual stays:
            a render at the reference note goes through untouched).
        transpose: semitones the voice is transposed by (its VCED value is 24 + this).
        residual_cents: input pitch minus the pitch of the voice played at the reference note.
        messages: what the user should know (no pitch found, transpose out of range).
    """

    shift: int
    transpose: int
    residual_cents: float
    messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Conditioned:
    """Audio ready for the model, and what was done to it.

    Attributes:
        audio: (notes, samples) float32 at the model rate, one row per note of the model's note set.
        recording: (samples,) float32: the input at the model rate from its onset, level adjusted, not
            pitch-shifted (:attr:`at_input_level` is it at its own level).
        f0_hz: input f0 (``None``: unpitched; the input is taken as played at the reference note).
        transpose: semitones for the voice's transpose parameter (VCED value 24 + transpose).
        residual_cents: pitch error left once transposed, in cents.
        level_db: input sample peak, dB re full scale (after mixdown).
        gain_db: gain applied to bring the peak into :data:`PEAK_RANGE_DB`.
        messages: notes for the user.
        pitch_reason: why the input is unpitched (``"unpitched: inharmonic"``); empty when pitched.
        vibrato: the vibrato heard in the input; ``None`` when it has none.
        ambiguous: for an input whose partials and a neural tracker hear apart (an organ's sub-octave
            partial): both f0s (:attr:`engine.pitch.F0Estimate.ambiguous`); ``None`` otherwise.
    """

    audio: np.ndarray
    recording: np.ndarray
    f0_hz: float | None
    transpose: int
    residual_cents: float
    level_db: float
    gain_db: float
    messages: tuple[str, ...] = ()
    pitch_reason: str = ""
    vibrato: Vibrato | None = None
    ambiguous: tuple[float, float] | None = None

    @property
    def at_input_level(self) -> np.ndarray:
        """:attr:`recording` at the input's own level: what a voice played at the reference note is compared with.
        A DX7 voice's level is part of its sound (a quiet voice peaks below :data:`PEAK_RANGE_DB`, and compared
        with its recording raised into the range it would lose to louder voices, its own exact twin included)."""
        return self.recording if self.gain_db == 0.0 else self.recording * np.float32(10.0 ** (-self.gain_db / 20.0))


def plan_transpose(f0_hz: float | None) -> TransposePlan:
    """The pitch shift of the input and the voice's transpose for an input at ``f0_hz``.

    The input goes down by whole semitones to the C at or below it (clamped to C2..C6); the voice
    is transposed by the semitones removed, clamped to the DX7's -24..+24.
    """
    if f0_hz is None:
        return TransposePlan(0, 0, 0.0, ("no clear pitch: the input is taken as played at the reference "
                                           f"note (MIDI {REFERENCE_NOTE})",))
    pitch = 69.0 + 12.0 * math.log2(f0_hz / 440.0)
    low, high = FOLD_RANGE
    target = min(max(REFERENCE_NOTE + 12 * math.floor((pitch + 0.5 - REFERENCE_NOTE) / 12), low), high)
    wanted = round(pitch - target)
    lo, hi = TRANSPOSE_RANGE
    transpose = min(max(wanted, lo), hi)
    messages: tuple[str, ...] = ()
    if transpose != wanted:
        messages = (f"input pitch {f0_hz:.1f} Hz (MIDI {pitch:.2f}) needs transpose {wanted:+d} semitones, "
                    f"outside the DX7 range {lo:+d}..{hi:+d}: clamped to {transpose:+d}; play "
                    f"{wanted - transpose:+d} semitones away from the note to hear the input's pitch",)
    return TransposePlan(-wanted, transpose, 100.0 * (pitch - target - transpose), messages)


def shift_pitch(audio: np.ndarray, semitones: int, sample_rate: int) -> np.ndarray:
    """Resample-based pitch shift (as a sampler plays a sample off its root key): duration changes."""
    if semitones == 0:
        return audio
    return soxr.resample(audio, sample_rate * 2.0 ** (semitones / 12.0), sample_rate, quality="HQ")


def _fit(audio: np.ndarray, samples: int) -> np.ndarray:
    out = np.zeros(samples, dtype=np.float32)
    kept = min(samples, audio.size)
    out[:kept] = audio[:kept]
    return out


class Conditioner:
    """Turns recordings into the model's input; stateless after construction, thread-safe.

    Args:
        sample_rate: the model rate (22 050 Hz).
        samples: the model window in samples (4 s).
        notes: the model's (note, velocity) set; each note gets a copy shifted to its pitch.
    """

    def __init__(self, sample_rate: int, samples: int, notes: Sequence[Note]) -> None:
        self.sample_rate = sample_rate
        self.samples = samples
        self.notes = tuple(notes)

    def __call__(self, audio: np.ndarray, sample_rate: int) -> Conditioned:
        """Condition one recording.

        Args:
            audio: 1-D mono or (samples, channels) float audio.
            sample_rate: its rate in Hz.

        Raises:
            ModelInputError: bad shape or rate, empty, NaN or inf.
            SilentInputError: loudest frame below :data:`SILENCE_DB`.
        """
        check_rate(sample_rate)
        mono = to_mono(audio)
        if sample_rate != self.sample_rate:
            mono = soxr.resample(mono, sample_rate, self.sample_rate, quality="HQ")
        frame_db = frame_rms_db(mono, FRAME, HOP, dtype=np.float32)
        loudest = float(frame_db.max())
        if loudest < SILENCE_DB:
            raise SilentInputError(
                f"audio is silent: loudest frame {loudest:.1f} dB RMS re full scale, below the {SILENCE_DB:.0f} dB "
                "threshold; record the sound louder or check the input channel"
            )
        mono = trim_onset(mono, self.sample_rate)
        pitch = estimate_f0(mono, self.sample_rate)
        noise = self._noise_message(mono, pitch)
        peak_db = 20.0 * math.log10(float(np.abs(mono).max()))
        low, high = PEAK_RANGE_DB
        gain_db = min(max(peak_db, low), high) - peak_db
        if gain_db:
            mono = mono * 10.0 ** (gain_db / 20.0)
        plan = plan_transpose(pitch.f0_hz)
        rows = [_fit(shift_pitch(mono, plan.shift + note - REFERENCE_NOTE, self.sample_rate), self.samples)
                for note, _ in self.notes]
        return Conditioned(np.stack(rows), _fit(mono, self.samples), pitch.f0_hz, plan.transpose, plan.residual_cents,
                           peak_db, gain_db, plan.messages + noise, pitch.reason, pitch.vibrato,
                           None if pitch.f0_hz is None else heard_f0(mono, self.sample_rate).ambiguous)

    def _noise_message(self, mono: np.ndarray, pitch: F0Estimate) -> tuple[str, ...]:
        """A note for steady broadband noise without pitch: answered like any sound (some DX7 voices are steady
        noise: 2 of 100 test voices), but it may be an open microphone rather than the sound meant.

        Short sounds (clicks, hits) and sounds that decay get no note: only noise held for at least
        :data:`NOISE_MIN_SECONDS` at a steady level does.
        """
        if pitch.f0_hz is not None:
            return ()
        audio = mono[: self.samples]
        frame_db = frame_rms_db(audio, FRAME, HOP, dtype=np.float32)
        sounding = frame_db >= frame_db.max() + ONSET_DB
        if sounding.sum() * HOP < NOISE_MIN_SECONDS * self.sample_rate:
            return ()
        high, low = percentiles(frame_db[sounding], (95, 5)).values()
        spread = high - low
        spectrum = stft_magnitude(audio, FRAME, HOP, bins_first=True)
        flatness = float(np.median(spectral_flatness(spectrum)[sounding[: spectrum.shape[1]]]))
        if spread >= NOISE_STEADY_DB or flatness <= NOISE_FLATNESS:
            return ()
        return (f"the recording is steady noise: no pitch ({pitch.reason}), spectral flatness {flatness:.2f} "
                f"(> {NOISE_FLATNESS}) and level spread {spread:.1f} dB (< {NOISE_STEADY_DB:.0f} dB, no note onset or "
                "decay); answered with the closest noise voice. If you meant a note, record it from its attack, "
                "without background noise alone",)
