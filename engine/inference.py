"""What an inference answers and how its search is run: the :class:`Inference` and its :class:`Diagnostics`, the
starts (the network's answer, the library's nearest voices, seeded neighbours in latent space) and the search
from them (:class:`engine.search.VoiceSearch`), the best voice fine-tuned and given the input's vibrato where it
still plays in tune with it. :class:`engine.runtime.Engine` is the facade that conditions the input and runs the
network first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from engine.conditioning import Conditioned
from engine.lfo_vibrato import has_vibrato_like, with_vibrato
from engine.library import Match, VoiceLibrary
from engine.pitch import F0Estimate, Vibrato, cents
from engine.search import Found, SearchResult, VoiceSearch
from engine.search_score import DEFAULT_SCORE
from engine.takes import Take
from engine.tuning import IN_TUNE_CENTS, fine_tune, heard_alike
from models.params import LEARNABLE, TRANSPOSE_CENTRE, TRANSPOSE_INDEX
from models.voice import Voice

__all__ = ["Diagnostics", "Inference", "SearchHost", "SearchOptions", "run_search", "starts"]

DETUNE_SCORE_TOLERANCE = 0.005  # log-spectral MAE a detune that brings the pitch closer may cost
LATENT_NEIGHBOURS = 2
LATENT_STEP = 0.3  # standard deviation of a neighbour's offset in latent space (the prior is N(0, 1))


@dataclass(frozen=True)
class Diagnostics:
    """How an inference went.

    Attributes:
        f0_hz: the input's f0, ``None`` when it has no clear pitch.
        transpose: semitones the voice is transposed by (VCED transpose = 24 + this).
        residual_cents: the input's pitch minus the voice's, played at the reference note (MIDI 60),
            in cents; 0 when either side is unpitched.
        level_db: input sample peak, dB re full scale.
        gain_db: gain applied to bring the input into the training level range.
        backend: the backend that ran the network.
        searched: whether the search ran beyond the first voice.
        timings_ms: milliseconds per step: conditioning, network, decode, library, search, total.
        distance: (first voice, answer) the search's score of the voice played at the reference note
            against the recording (0 = identical).
        messages: things the user should know (no pitch found, transpose clamped).
        voice_f0_hz: the voice's f0 played at the reference note, measured on a render; ``None``
            when the voice is unpitched.
        cents: ``voice_f0_hz`` relative to ``f0_hz`` (positive = sharp); ``None`` unless both are pitched.
        pitch: ``"pitched"``, or which side has no f0 and why (``"input unpitched: inharmonic"``).
        octaves: octaves the voice's ratio-mode operators were scaled by to reach the pitch.
        source: where the voice came from (``"network"``, ``"library: NAME (SOURCE)"``, ``" + search"``).
        renders: renders the search spent.
        vibrato: the input's vibrato, which the voice's LFO plays (speed, delay, pitch-modulation depth); ``None``
            when the input has none (the voice's LFO is then its own).
        score: which comparison ``distance`` is (:data:`engine.search_score.SCORES`).
    """

    f0_hz: float | None
    transpose: int
    residual_cents: float
    level_db: float
    gain_db: float
    backend: str
    searched: bool
    timings_ms: dict[str, float] = field(default_factory=dict)
    distance: tuple[float, float] | None = None
    messages: tuple[str, ...] = ()
    voice_f0_hz: float | None = None
    cents: float | None = None
    pitch: str = "pitched"
    octaves: int = 0
    source: str = "network"
    renders: int = 0
    vibrato: Vibrato | None = None
    score: str = DEFAULT_SCORE


@dataclass(frozen=True)
class Inference:
    """One inferred voice.

    Attributes:
        voice: the voice, tuned to the input's pitch (transpose, and ratio octaves where needed).
        latent: its latent point zK, (latent_dim,) float32.
        diagnostics: pitch, level, backend, timings.
        model_input: what the network heard: (notes, samples) float32 at the model rate.
        recording: the input from its onset at its own level, not pitch-shifted: (samples,) float32 at
            the model rate, what the voice played at the reference note is compared with.
    """

    voice: Voice
    latent: np.ndarray
    diagnostics: Diagnostics
    model_input: np.ndarray
    recording: np.ndarray


@dataclass(frozen=True)
class SearchOptions:
    """How one inference searches (the options of :meth:`engine.runtime.Engine.infer`)."""

    search: bool
    budget_ms: float
    max_renders: int | None = None
    seed: int = 0
    on_better: Callable[[Inference], None] | None = None
    should_stop: Callable[[], bool] | None = None


class SearchHost(Protocol):
    """What the search needs of the engine (:class:`engine.runtime.Engine` is one)."""

    search: VoiceSearch
    library: VoiceLibrary | None
    library_k: int

    @property
    def backend_name(self) -> str: ...

    def encode(self, voice: Voice) -> np.ndarray: ...

    def decode(self, latent: np.ndarray, template: Voice | None = None) -> Voice: ...

    def voice_pitch(self, voice: Voice) -> F0Estimate: ...

    def embed_conditioned(self, conditioned_audio: np.ndarray) -> np.ndarray: ...


def predicted_transpose(match: Match, conditioned: Conditioned) -> int:
    """The transpose that brings a library voice to the input's pitch, from the f0 stored with it; an
    unpitched input (a drum) keeps the voice's own transpose, the one its embedding was rendered with."""
    if conditioned.f0_hz is None:
        return match.voice[TRANSPOSE_INDEX] - TRANSPOSE_CENTRE
    if match.f0_hz is None:
        return conditioned.transpose
    semitones = round(12.0 * np.log2(conditioned.f0_hz / match.f0_hz))
    return min(max(semitones, -TRANSPOSE_CENTRE), TRANSPOSE_CENTRE)


def distinct(starts: Sequence[tuple[Voice, str]]) -> list[tuple[Voice, str]]:
    """The starts without repeats (the same voice found for two takes), in order."""
    seen: set[tuple[int, ...]] = set()
    kept = []
    for voice, source in starts:
        if voice.values not in seen:
            seen.add(voice.values)
            kept.append((voice, source))
    return kept


def learnable_values(voice: Voice) -> tuple[int, ...]:
    return tuple(voice[spec.index] for spec in LEARNABLE)


def ms(start: float) -> float:
    """Milliseconds since ``start`` (``time.perf_counter``)."""
    return (time.perf_counter() - start) * 1000.0


def run_search(engine: SearchHost, takes: Sequence[Take], conditioned: Conditioned, f0_hz: float | None,
               starts: Sequence[tuple[Voice, str]], network: tuple[Voice, np.ndarray], options: SearchOptions,
               timings: dict[str, float], judged: int = 1) -> tuple[Inference, SearchResult]:
    """Run the search from ``starts`` against ``takes``; ``conditioned`` is the take the diagnostics
    describe, ``network`` the network's voice and latent point (the latent of an unchanged answer), and
    the first ``judged`` starts are scored on every take (:meth:`VoiceSearch.run`). Returns the answer
    and the search's own result (every better voice it found)."""
    network_voice, network_latent = network
    targets = engine.search.targets(takes)

    def as_played(found: Found) -> Found:
        """The voice with the input's vibrato on its LFO; where the voice has a vibrato of its own about as deep
        (:func:`has_vibrato_like`), only if that plays the takes closer (its own LFO may already move as the
        recording does). Scored as it plays."""
        if conditioned.vibrato is None or (voice := with_vibrato(found.voice, conditioned.vibrato)) == found.voice:
            return found
        score = engine.search.score(voice, targets)
        if score <= found.score or not has_vibrato_like(found.voice, conditioned.vibrato):
            return replace(found, voice=voice, score=score)
        return found

    def answer(found: Found, first_score: float, renders: int) -> Inference:
        voice = found.voice
        same = learnable_values(voice) == learnable_values(network_voice)
        latent = network_latent if same else engine.encode(voice)
        tuning = found.tuning
        diagnostics = Diagnostics(
            conditioned.f0_hz, tuning.voice[TRANSPOSE_INDEX] - TRANSPOSE_CENTRE,
            0.0 if tuning.cents is None else -tuning.cents, conditioned.level_db, conditioned.gain_db,
            engine.backend_name, options.search, dict(timings), (first_score, found.score),
            conditioned.messages + tuning.messages, tuning.voice_f0_hz, tuning.cents, tuning.pitch, tuning.octaves,
            found.source, renders, conditioned.vibrato, engine.search.score_kind,
        )
        return Inference(voice, latent, diagnostics, conditioned.audio, conditioned.at_input_level)

    def heard_in_tune(voice: Voice) -> bool:
        """Whether ``voice`` played is heard within :data:`~engine.tuning.IN_TUNE_CENTS` of the recording (a deep
        vibrato can set another partial's pitch, or none, where the voice held still plays in tune)."""
        heard = heard_alike(engine.voice_pitch(voice), conditioned.ambiguous)
        return f0_hz is not None and heard.f0_hz is not None and abs(cents(heard.f0_hz, f0_hz)) <= IN_TUNE_CENTS

    first: list[float] = []  # the first voice's score, once found

    def better(found: Found) -> None:
        if not first:
            first.append(found.score)
        if options.on_better is not None:
            options.on_better(answer(as_played(found), first[0], found.renders))

    result = engine.search.run(
        takes, f0_hz, starts if options.search else starts[:1],
        budget_ms=options.budget_ms if options.search else 0.0, max_renders=options.max_renders, seed=options.seed,
        input_reason=conditioned.pitch_reason, on_better=better, should_stop=options.should_stop, judged=judged,
        input_ambiguous=conditioned.ambiguous,
    )
    best = result.best
    started = time.perf_counter()
    tuned = fine_tune(best.tuning, lambda voice: heard_alike(engine.voice_pitch(voice), conditioned.ambiguous))
    if tuned is not best.tuning:  # the residual shrank: keep the detuned voice unless its sound got worse
        score = engine.search.score(tuned.voice, targets)
        if score <= best.score + DETUNE_SCORE_TOLERANCE:
            best = replace(best, voice=tuned.voice, tuning=tuned, score=score)
    if (played := as_played(best)) is not best and (not best.tuning.in_tune or heard_in_tune(played.voice)):
        best = played  # the input's vibrato, where the answer still plays at the recording's pitch with it
    timings["search"] = result.elapsed_ms + ms(started)
    timings["total"] = sum(timings.values())
    return answer(best, result.start.score, result.renders), result


def starts(engine: SearchHost, network_voice: Voice, network_latent: np.ndarray, conditioned: Conditioned,
           seed: int) -> list[tuple[Voice, str]]:
    """The library's nearest voice first when there is a library (transposed to the input's pitch by its
    stored f0: on held-out voices it is the closer first voice, 0.37 against the network's 0.87), then
    the network's answer, the other library voices and :data:`LATENT_NEIGHBOURS` seeded points around
    the network's latent point."""
    nearby = neighbours(engine, network_voice, network_latent, seed)
    first = [(network_voice, "network")]
    if engine.library is None or len(engine.library) == 0:
        return first + nearby
    matches = [start for start, _ in library_starts(engine, engine.embed_conditioned(conditioned.audio), conditioned,
                                                           engine.library_k)]
    return [*matches[:1], *first, *matches[1:], *nearby]

def library_starts(engine: SearchHost, query: np.ndarray, conditioned: Conditioned,
                   k: int) -> list[tuple[tuple[Voice, str], float]]:
    """The ``k`` library voices nearest ``query``, transposed to the input's pitch by their stored f0 (else the
    input's planned transpose), and their distances."""
    if engine.library is None:
        return []
    return [((m.voice.replace({TRANSPOSE_INDEX: TRANSPOSE_CENTRE + predicted_transpose(m, conditioned)}),
              f"library: {m.voice.name.strip() or '(no name)'} ({m.source})"), m.distance)
            for m in engine.library.search(query, k)]

def neighbours(engine: SearchHost, voice: Voice, latent: np.ndarray, seed: int) -> list[tuple[Voice, str]]:
    """:data:`LATENT_NEIGHBOURS` seeded voices around a latent point (its template: ``voice``)."""
    rng = np.random.default_rng(seed)
    return [(engine.decode(latent + rng.normal(0.0, LATENT_STEP, latent.shape).astype(np.float32), voice),
             f"network neighbour {n + 1}") for n in range(LATENT_NEIGHBOURS)]
