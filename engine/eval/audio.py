"""Score answers to real recordings: is the voice close, and does it play at the recording's pitch?

For each recording the pipeline's voice (:meth:`engine.runtime.Engine.infer`) and, as the honest
baseline, the nearest library voice by sound (retrieval: transposed to the input's pitch by the f0
stored with it, as the search's starts are, and again tuned by :mod:`engine.tuning`) are rendered
at the reference note, as a user plays them, and compared with the recording from its onset:

- ``spec_mae``: the paper's log-spectral MAE (:func:`models.metrics.spec_mae`), and beside it two scores
  that weigh frequency and timbre as hearing does: ``log_mel_db``, the mean dB difference of 128-band
  mel spectrograms floored 80 dB below the recording's peak (:func:`models.metrics.log_mel_distance`),
  and ``mfcc``, the mean difference of MFCCs 1-19 (:func:`models.metrics.mfcc_distance`);
- the f0 of the recording (:func:`engine.pitch.estimate_f0`) and of the render as heard (:func:`engine.pitch.heard_f0`:
  unpitched where an independent tracker hears it an octave or more away), measured on each side independently,
  and the cents between them when both are pitched; the recording's vibrato and the render's (the pipeline's voice
  plays the recording's vibrato on its LFO);
- the same f0s heard by an independent neural tracker (:func:`engine.neural_pitch.neural_f0`, CREPE): an
  answer an octave or more away by either tracker, on a recording whose pitch the two agree on, is an octave
  error that counts.

Recordings come in groups (a folder: the straight instrument notes, the performed notes), summarised each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from engine.conditioning import REFERENCE_NOTE
from engine.inference import predicted_transpose
from engine.library import VoiceLibrary
from engine.neural_pitch import OCTAVE_CENTS, neural_f0
from engine.pitch import Vibrato, cents, estimate_f0, heard_f0
from engine.runtime import Engine
from engine.tuning import IN_TUNE_CENTS, tune
from models.metrics import log_mel_distance, mfcc_distance, spec_mae, spec_mae_silent, stft_magnitude
from models.params import TRANSPOSE_CENTRE, TRANSPOSE_INDEX
from models.render import NOTE_SECONDS, Renderer
from models.voice import Voice

__all__ = ["METHODS", "OCTAVE_CENTS", "Answer", "RecordingScore", "score_recording", "summarise", "summarise_groups",
           "vibrato_matches"]

METHODS = ("pipeline", "nearest", "nearest+tuning")
DISTANCES = ("spec_mae", "log_mel_db", "mfcc")
VIBRATO_RATE_HZ = 0.5
VIBRATO_DEPTH_RATIO = 1.5
"""A render plays a recording's vibrato when the rates lie this close and neither depth is this many times the other."""


@dataclass(frozen=True)
class Answer:
    """One answer to one recording.

    Attributes:
        voice_name: the voice's name.
        source: where it came from ("network", or the library voice's source).
        spec_mae: log-spectral MAE of its render at the reference note against the recording.
        log_mel_db: mean dB difference of the two mel spectrograms (floored 80 dB below the recording's peak).
        mfcc: mean difference of MFCCs 1-19.
        voice_f0_hz: f0 of that render as heard; ``None`` when unpitched or ambiguous.
        cents: ``voice_f0_hz`` relative to the recording's f0; ``None`` unless both are pitched.
        transpose: its transpose in semitones (VCED value - 24).
        neural_f0_hz: f0 of that render by the neural tracker; ``None`` when it is unsure.
        vibrato: the vibrato heard in that render; ``None`` when it has none.
        spec_mae_silent: the part of ``spec_mae`` on the bins where the recording is digitally silent
            (:func:`models.metrics.spec_mae_silent`: a sampled instrument above its samples' bandwidth, a note
            after its release); the rest is on the bins where it sounds.
    """

    voice_name: str
    source: str
    spec_mae: float
    log_mel_db: float
    mfcc: float
    voice_f0_hz: float | None
    cents: float | None
    transpose: int
    neural_f0_hz: float | None = None
    vibrato: Vibrato | None = None
    spec_mae_silent: float = 0.0


@dataclass(frozen=True)
class RecordingScore:
    """Every method's answer to one recording.

    Attributes:
        name: the recording (file name).
        input_f0_hz: the recording's f0; ``None`` when unpitched.
        input_pitch: ``"pitched"`` or why not (``"unpitched: inharmonic"``).
        expected_f0_hz: the f0 the recording was made at, when known (a manifest).
        answers: method -> answer.
        group: the set it belongs to (its folder).
        input_vibrato: the recording's vibrato; ``None`` when it has none.
        input_neural_f0_hz: the recording's f0 by the neural tracker; ``None`` when it is unsure.
    """

    name: str
    input_f0_hz: float | None
    input_pitch: str
    expected_f0_hz: float | None
    answers: dict[str, Answer] = field(default_factory=dict)
    group: str = ""
    input_vibrato: Vibrato | None = None
    input_neural_f0_hz: float | None = None

    @property
    def trackers_agree(self) -> bool:
        """Both trackers heard the recording's pitch, less than an octave apart."""
        return (self.input_f0_hz is not None and self.input_neural_f0_hz is not None
                and abs(cents(self.input_neural_f0_hz, self.input_f0_hz)) < OCTAVE_CENTS)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return asdict(self)


def _answer(voice: Voice, source: str, recording: np.ndarray, input_f0: float | None,
            render: Callable[[Voice], np.ndarray], sample_rate: int) -> Answer:
    audio = render(voice)
    heard = heard_f0(audio, sample_rate)
    f0 = heard.f0_hz
    recorded, played = stft_magnitude(recording), stft_magnitude(audio)
    return Answer(voice.name, source, spec_mae(recorded, played),
                  log_mel_distance(recording, audio, sample_rate), mfcc_distance(recording, audio, sample_rate), f0,
                  None if f0 is None or input_f0 is None else cents(f0, input_f0),
                  voice[TRANSPOSE_INDEX] - TRANSPOSE_CENTRE, neural_f0(audio, sample_rate), heard.vibrato,
                  spec_mae_silent(recorded, played))


def score_recording(engine: Engine, library: VoiceLibrary | None, name: str, audio: np.ndarray, sample_rate: int,
                    *, expected_f0_hz: float | None = None, renderer: Renderer | None = None,
                    group: str = "") -> RecordingScore:
    """Infer a voice for one recording and score it (and the nearest library voice) against it.

    Raises:
        ModelInputError: a recording the engine refuses (silence, bad audio).
    """
    renderer = renderer or Renderer(engine.sample_rate, NOTE_SECONDS, engine.checkpoint.config.frontend.duration_s)
    inference = engine.infer(audio, sample_rate)
    recording = inference.recording
    measured = estimate_f0(recording, engine.sample_rate)
    input_f0 = measured.f0_hz

    def render(voice: Voice) -> np.ndarray:
        return renderer.render(voice, REFERENCE_NOTE)

    result = RecordingScore(name, input_f0, measured.reason or "pitched", expected_f0_hz, group=group,
                            input_vibrato=measured.vibrato,
                            input_neural_f0_hz=neural_f0(recording, engine.sample_rate))
    result.answers["pipeline"] = _answer(inference.voice, inference.diagnostics.source, recording, input_f0, render,
                                         engine.sample_rate)
    if library is not None and len(library):
        conditioned = engine.conditioner(audio, sample_rate)
        match = library.search(engine.embed_conditioned(conditioned.audio), 1)[0]
        transpose = predicted_transpose(match, conditioned)  # from the f0 stored with it, as the search's starts: no render
        retrieved = match.voice.replace({TRANSPOSE_INDEX: TRANSPOSE_CENTRE + transpose})
        result.answers["nearest"] = _answer(retrieved, match.source, recording, input_f0, render, engine.sample_rate)
        tuned = tune(retrieved, inference.diagnostics.f0_hz, engine.voice_pitch).voice
        result.answers["nearest+tuning"] = _answer(tuned, match.source, recording, input_f0, render, engine.sample_rate)
    return result


def _octave_error(score: RecordingScore, answer: Answer) -> bool:
    """The answer lies an octave or more from the recording by either tracker."""
    neural_off = (None if answer.neural_f0_hz is None or score.input_neural_f0_hz is None
                  else cents(answer.neural_f0_hz, score.input_neural_f0_hz))
    return any(off is not None and abs(off) >= OCTAVE_CENTS for off in (answer.cents, neural_off))


def vibrato_matches(heard: Vibrato | None, played: Vibrato | None) -> bool:
    """Whether a render's vibrato is the recording's: rates within :data:`VIBRATO_RATE_HZ`, depths within
    :data:`VIBRATO_DEPTH_RATIO` of each other (``False`` when either has none)."""
    return (heard is not None and played is not None and abs(heard.rate_hz - played.rate_hz) <= VIBRATO_RATE_HZ
            and 1 / VIBRATO_DEPTH_RATIO <= played.depth_cents / heard.depth_cents <= VIBRATO_DEPTH_RATIO)


def summarise(scores: Sequence[RecordingScore]) -> dict[str, dict[str, Any]]:
    """Per method: mean spec_mae (and its part on the bins where the recording is silent, ``spec_mae_silent``),
    log_mel_db and mfcc, and on how many recordings each is lower than the
    nearest library voice's (``closer_than_nearest``: per score and on ``all`` three); over recordings where
    both sides are pitched, the share within :data:`IN_TUNE_CENTS`, the median |cents| and the octave
    errors; the octave errors by either tracker on the recordings whose pitch the two trackers agree on;
    the share within :data:`IN_TUNE_CENTS` by the neural tracker on both sides; how many answers were
    unpitched for a pitched recording; and of the recordings with vibrato, how many answers play it
    (:func:`vibrato_matches`)."""
    summary: dict[str, dict[str, Any]] = {}
    for method in METHODS:
        answers = [(s, s.answers[method]) for s in scores if method in s.answers]
        if not answers:
            continue
        off = np.array([abs(a.cents) for _, a in answers if a.cents is not None])
        neural = np.array([abs(cents(a.neural_f0_hz, s.input_neural_f0_hz)) for s, a in answers
                           if a.neural_f0_hz is not None and s.input_neural_f0_hz is not None])
        summary[method] = {
            "recordings": len(answers),
            "spec_mae": float(np.mean([a.spec_mae for _, a in answers])),
            "spec_mae_silent": float(np.mean([a.spec_mae_silent for _, a in answers])),
            "log_mel_db": float(np.mean([a.log_mel_db for _, a in answers])),
            "mfcc": float(np.mean([a.mfcc for _, a in answers])),
            "closer_than_nearest": _closer_than_nearest(answers),
            "pitched_pairs": int(off.size),
            "within_50_cents": float(np.mean(off <= IN_TUNE_CENTS)) if off.size else None,
            "median_abs_cents": float(np.median(off)) if off.size else None,
            "octave_errors": int(np.sum(off >= OCTAVE_CENTS)),
            "trackers_agree": sum(1 for s, _ in answers if s.trackers_agree),
            "octave_errors_where_trackers_agree": sum(1 for s, a in answers if s.trackers_agree and _octave_error(s, a)),
            "neural_within_50_cents": float(np.mean(neural <= IN_TUNE_CENTS)) if neural.size else None,
            "unpitched_answers": sum(1 for s, a in answers if s.input_f0_hz is not None and a.voice_f0_hz is None),
            "with_vibrato": sum(1 for s, _ in answers if s.input_vibrato is not None),
            "vibrato_matched": sum(1 for s, a in answers if vibrato_matches(s.input_vibrato, a.vibrato)),
        }
    return summary


def _closer_than_nearest(answers: Sequence[tuple[RecordingScore, Answer]]) -> dict[str, int]:
    """On how many recordings an answer scores lower than the nearest library voice, per score and on all three."""
    pairs = [(a, s.answers["nearest"]) for s, a in answers if "nearest" in s.answers]
    counts = {name: sum(1 for a, b in pairs if getattr(a, name) < getattr(b, name)) for name in DISTANCES}
    counts["all"] = sum(1 for a, b in pairs if all(getattr(a, name) < getattr(b, name) for name in DISTANCES))
    return counts


def summarise_groups(scores: Sequence[RecordingScore]) -> dict[str, dict[str, dict[str, Any]]]:
    """:func:`summarise` for each group of recordings, in the order the groups first appear."""
    groups = dict.fromkeys(s.group for s in scores)
    return {group: summarise([s for s in scores if s.group == group]) for group in groups}
