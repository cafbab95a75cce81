"""Tune a voice to a recording's pitch by measuring the voice itself.

A DX7 voice has no pitch parameter: at a key its f0 follows from its operators' frequency ratios,
and the network's ratios often land an octave or more away from the recording. So the voice is
rendered at the reference note with transpose centred, its f0 measured as heard (:func:`engine.pitch.voice_f0`:
the partials, the loud ones setting the pitch over a weak sub-partial, checked by an independent neural tracker; a
voice the two hear a semitone or more apart has no pitch to tune, so it is never in tune), transpose set to the
semitones between that f0 and the recording's, and the transposed voice measured again as played
(transpose moves the key that rate and level scaling see, so the spectrum can change): corrected
once if it still lands a semitone or more away, unpitched if it no longer has a pitch. Where the
DX7's -24..+24 semitones cannot reach, every ratio-mode operator's frequency is scaled by the same
whole octaves (:func:`scale_ratios`), which keeps the spectrum's structure, and the voice is
measured again.

An unpitched recording (drums, clicks, bells with no clear f0) keeps the transpose it came with;
so does a voice whose render is unpitched. Nothing here is refused: the answer says which side
had no pitch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from engine.pitch import F0Estimate, cents
from models.params import BY_NAME, TRANSPOSE_CENTRE, TRANSPOSE_INDEX
from models.voice import Voice

__all__ = ["IN_TUNE_CENTS", "Tuning", "fine_tune", "heard_alike", "scale_ratios", "tune"]

IN_TUNE_CENTS = 50.0
"""A voice within this many cents of the recording plays at its pitch."""
TRANSPOSE_LIMIT = TRANSPOSE_CENTRE  # the DX7 transposes by -24..+24 semitones
MAX_COARSE = BY_NAME["op1_coarse"].hi
MAX_FINE = BY_NAME["op1_fine"].hi
MAX_DETUNE = BY_NAME["op1_detune"].hi
FINE_CENTS = 3.0  # residuals this small are left alone
DETUNE_CENTS_PER_STEP = 1.2  # measured at middle C (all six operators +7 steps: +8.4 cents; 14 cents at C2, 5 at C6)
RATIO_TOLERANCE = 0.002  # a scaled ratio must be this close (relative) to the exact octave
_OPS = range(1, 7)


@dataclass(frozen=True)
class Tuning:
    """A voice tuned to a recording.

    Attributes:
        voice: the tuned voice (transpose set; ratios scaled by ``octaves`` where needed).
        input_f0_hz: the recording's f0; ``None`` when unpitched.
        voice_f0_hz: the tuned voice's f0 measured as played at the reference note (transpose
            included); ``None`` when unpitched.
        cents: ``voice_f0_hz`` relative to ``input_f0_hz`` (positive = the voice is sharp); ``None``
            unless both are pitched.
        octaves: octaves every ratio-mode operator was scaled by (0 = none).
        pitch: ``"pitched"``, or why a side has no f0 (``"input unpitched: inharmonic"``,
            ``"voice unpitched: noise"``, ...).
        messages: notes for the user.
    """

    voice: Voice
    input_f0_hz: float | None
    voice_f0_hz: float | None
    cents: float | None
    octaves: int = 0
    pitch: str = "pitched"
    messages: tuple[str, ...] = ()

    @property
    def in_tune(self) -> bool:
        """Both sides pitched and within :data:`IN_TUNE_CENTS`."""
        return self.cents is not None and abs(self.cents) <= IN_TUNE_CENTS


def _ratio(coarse: int, fine: int) -> float:
    return (0.5 if coarse == 0 else float(coarse)) * (1.0 + fine / 100.0)


def _coarse_fine(ratio: float) -> tuple[int, int] | None:
    """The (coarse, fine) pair with the least fine whose ratio is ``ratio`` (within :data:`RATIO_TOLERANCE`), if any."""
    for coarse in range(MAX_COARSE, -1, -1):  # the largest coarse: the smallest fine
        base = _ratio(coarse, 0)
        fine = round(100.0 * (ratio / base - 1.0))
        if 0 <= fine <= MAX_FINE and abs(_ratio(coarse, fine) / ratio - 1.0) <= RATIO_TOLERANCE:
            return coarse, fine
    return None


def scale_ratios(voice: Voice, octaves: int) -> Voice | None:
    """``voice`` with every ratio-mode operator's frequency multiplied by ``2 ** octaves``.

    Fixed-frequency operators and silent ones (output level 0) are left as they are. Returns ``None``
    when a sounding operator's ratio would leave what coarse (0.5-31) and fine can express exactly.
    """
    changes: dict[int, int] = {}
    for op in _OPS:
        if voice[f"op{op}_osc_mode"] != 0 or voice[f"op{op}_output_level"] == 0:
            continue
        found = _coarse_fine(_ratio(voice[f"op{op}_coarse"], voice[f"op{op}_fine"]) * 2.0**octaves)
        if found is None:
            return None
        changes[BY_NAME[f"op{op}_coarse"].index], changes[BY_NAME[f"op{op}_fine"].index] = found
    return voice.replace(changes)


def tune(voice: Voice, input_f0_hz: float | None, measure: Callable[[Voice], F0Estimate], *,
         input_reason: str = "") -> Tuning:
    """Set ``voice``'s transpose (and, past +-24 semitones, its ratios' octave) so that it plays at
    ``input_f0_hz`` on the reference note.

    Args:
        voice: the voice to tune; its transpose is kept when either side is unpitched.
        input_f0_hz: the recording's f0, ``None`` when it has none.
        measure: the f0 of a voice played at the reference note (a render and :func:`engine.pitch.estimate_f0`).
        input_reason: why the recording is unpitched (``"unpitched: inharmonic"``), for the report.
    """
    centred = voice.replace({TRANSPOSE_INDEX: TRANSPOSE_CENTRE})
    measured = measure(centred)
    if input_f0_hz is None:
        kept = voice[TRANSPOSE_INDEX] - TRANSPOSE_CENTRE
        return kept_transpose(voice, input_reason, None if measured.f0_hz is None else measured.f0_hz * 2.0 ** (kept / 12.0))
    if measured.f0_hz is None:
        return Tuning(voice, input_f0_hz, None, None, pitch=f"voice {measured.reason or 'unpitched'}",
                      messages=(f"the voice has no clear pitch ({measured.reason}): transpose from the recording's pitch only",))
    semitones = 12.0 * math.log2(input_f0_hz / measured.f0_hz)
    octaves = _octaves_needed(round(semitones))
    messages: tuple[str, ...] = ()
    if octaves:
        scaled = scale_ratios(centred, octaves)
        rescaled = measure(scaled) if scaled is not None else None
        if scaled is not None and rescaled is not None and rescaled.f0_hz is not None:
            centred, measured = scaled, rescaled
            semitones = 12.0 * math.log2(input_f0_hz / measured.f0_hz)
            messages = (f"operator ratios scaled by {octaves:+d} octave(s): transpose alone reaches +-{TRANSPOSE_LIMIT} semitones",)
        else:
            octaves = 0
            messages = ("the pitch is beyond transpose's +-24 semitones and the ratios cannot be scaled by whole "
                        "octaves: transpose clamped",)
    return _played(centred, _clamped(round(semitones)), input_f0_hz, measure, octaves, messages)


def kept_transpose(voice: Voice, input_reason: str = "", voice_f0_hz: float | None = None) -> Tuning:
    """What :func:`tune` makes of ``voice`` for a recording with no pitch: the voice as it is (``voice_f0_hz``: its
    f0 as played, where measured; nothing in the search depends on it)."""
    return Tuning(voice, None, voice_f0_hz, None, pitch=f"input {input_reason or 'unpitched'}",
                  messages=("the recording has no clear pitch: the voice keeps its transpose",))


def heard_alike(voice: F0Estimate, recording: tuple[float, float] | None) -> F0Estimate:
    """``voice``, pitched at its partials' f0 when the two trackers hear it apart as they hear the recording
    apart (``recording``: its partials' and neural f0; an organ's sub-octave partial): the interval between
    them within :data:`IN_TUNE_CENTS` of the recording's, so once its partials play at the recording's f0
    both trackers hear the two alike. Otherwise ``voice`` unchanged."""
    if voice.ambiguous is None or recording is None:
        return voice
    if abs(cents(*voice.ambiguous) - cents(*recording)) > IN_TUNE_CENTS:
        return voice
    return replace(voice, f0_hz=voice.ambiguous[0], reason="")


def _clamped(transpose: int) -> int:
    return min(max(transpose, -TRANSPOSE_LIMIT), TRANSPOSE_LIMIT)


def _played(centred: Voice, transpose: int, input_f0_hz: float, measure: Callable[[Voice], F0Estimate], octaves: int,
            messages: tuple[str, ...]) -> Tuning:
    """The voice at ``transpose``, measured as played (transpose moves the key its scaling sees, so the
    spectrum, and the pitch heard, can change); one correction when it lands a semitone or more away."""
    for attempt in range(2):
        tuned = centred.replace({TRANSPOSE_INDEX: TRANSPOSE_CENTRE + transpose})
        played = measure(tuned)
        if played.f0_hz is None:
            return Tuning(tuned, input_f0_hz, None, None, octaves, f"voice unpitched when transposed {transpose:+d} "
                          f"({played.reason})", messages)
        off = cents(played.f0_hz, input_f0_hz)
        corrected = _clamped(transpose - round(off / 100.0))
        if abs(off) <= IN_TUNE_CENTS or corrected == transpose or attempt:
            return Tuning(tuned, input_f0_hz, played.f0_hz, off, octaves, messages=messages)
        transpose = corrected
    raise AssertionError("unreachable")


def fine_tune(tuning: Tuning, measure: Callable[[Voice], F0Estimate]) -> Tuning:
    """``tuning``'s voice with every sounding operator's detune moved by the same steps toward the
    recording's pitch (about 1.2 cents a step at middle C: a DX7 cannot tune finer), kept only when the
    measured residual shrinks. Voices already within :data:`FINE_CENTS`, or unpitched, are returned as they are."""
    if tuning.cents is None or tuning.input_f0_hz is None or abs(tuning.cents) <= FINE_CENTS:
        return tuning
    steps = round(-tuning.cents / DETUNE_CENTS_PER_STEP)
    sounding = [op for op in _OPS if tuning.voice[f"op{op}_output_level"] > 0]
    changes = {BY_NAME[f"op{op}_detune"].index: min(max(tuning.voice[f"op{op}_detune"] + steps, 0), MAX_DETUNE)
               for op in sounding}
    detuned = tuning.voice.replace(changes)
    played = measure(detuned)
    if detuned == tuning.voice or played.f0_hz is None:
        return tuning
    off = cents(played.f0_hz, tuning.input_f0_hz)
    if abs(off) >= abs(tuning.cents):
        return tuning
    return Tuning(detuned, tuning.input_f0_hz, played.f0_hz, off, tuning.octaves, tuning.pitch,
                  tuning.messages + (f"operator detune moved {steps:+d} steps: {tuning.cents:+.1f} -> {off:+.1f} cents",))


def _octaves_needed(semitones: int) -> int:
    if abs(semitones) <= TRANSPOSE_LIMIT:
        return 0
    return int(math.copysign(math.ceil((abs(semitones) - TRANSPOSE_LIMIT) / 12.0), semitones))
