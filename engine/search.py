"""Multi-start anytime search: the voice whose sound is closest to a recording, in tune.

The starts are the network's answer and the library's nearest voices (:mod:`engine.library`).
The first is tuned and scored at once (the first voice); the others are screened by one render each
and the closest :data:`TUNED_STARTS` tuned. Tuning (:func:`engine.tuning.tune`) brings a voice to the
recording's pitch, and a score compares by render: the voice
played at the reference note, as a user plays it, against the recording from its onset
(:func:`models.metrics.spec_mae` of the magnitude spectrograms, plus a penalty for energy below
20 Hz beyond the recording's own, which thumps on monitors). A start that cannot play at the
recording's pitch loses to any that can. The best start is then improved: with a render budget up
to :data:`~engine.search_cma.CMA_UP_TO` by CMA-ES on its continuous parameters
(:mod:`engine.search_cma`; the (1+1)-ES takes what a stalled one leaves), otherwise by a (1+1)
evolution strategy on all its learnable parameters (:func:`mutate`); an improvement is kept only
if the voice still plays within 50 cents of the recording (re-tuned when its transpose must
change). Every new best voice
is reported at once (``on_better``), so a caller can stream it, until a time budget, a render
budget or a stop request. Never worse than the best start; with a render budget (and no time
budget) the same recording and seed give the same voice, and a time budget only decides how far
the same sequence of candidates gets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from engine.conditioning import REFERENCE_NOTE
from engine.pitch import F0Estimate
from engine.search_cma import CMA_UP_TO, ContinuousCma
from engine.takes import Take
from engine.tuning import Tuning, tune
from models.metrics import log_magnitude, log_spec_mae, stft_magnitude
from models.params import LEARNABLE, Kind, ParamSpec
from models.render import NOTE_SECONDS, Renderer
from models.voice import Voice

__all__ = ["DEFAULT_BUDGET_MS", "Found", "SearchResult", "VoiceSearch", "mutate"]

DEFAULT_BUDGET_MS = 250.0
TUNED_STARTS = 6
"""Starts after the first are screened by one render as they come (their transpose predicted from
the library's stored f0) and only this many of the closest are tuned (a pitch measurement or three)."""
SENSITIVE = ("output_level", "coarse", "fine", "eg_rate1", "eg_rate2", "eg_level2", "eg_level3", "feedback", "algorithm")
SENSITIVE_WEIGHT = 3.0
NUMERICAL_STEP = 0.08  # standard deviation of a numerical change, as a share of the parameter's span
FIRST_TAKE_SLACK = 0.02
"""With several takes, a mutation scoring this much worse than its parent on the first take is
dropped without being played on the others (a 6x cheaper search)."""
SUBSONIC_HZ = 20.0
SUBSONIC_WEIGHT = 2.0
SUBSONIC_SAMPLES = 1 << 15  # score penalty per unit share of the render's energy below SUBSONIC_HZ


def _draw_weights() -> np.ndarray:
    kinds = [p.name.split("_", 1)[1] if p.op is not None else p.name for p in LEARNABLE]  # op3_coarse -> coarse
    weights = np.array([SENSITIVE_WEIGHT if kind in SENSITIVE else 1.0 for kind in kinds])
    return weights / weights.sum()


_WEIGHTS = _draw_weights()


def mutate(voice: Voice, rng: np.random.Generator) -> Voice:
    """``voice`` with one or two learnable parameters changed (numerical ones by a few steps,
    categorical ones to another class; the parameters that shape the sound most drawn more often)."""
    changes: dict[int, int] = {}
    for index in rng.choice(len(LEARNABLE), size=int(rng.integers(1, 3)), replace=False, p=_WEIGHTS):
        spec: ParamSpec = LEARNABLE[int(index)]
        value = voice[spec.index]
        if spec.kind is Kind.CATEGORICAL:
            others = [v for v in range(spec.lo, spec.hi + 1) if v != value]
            changes[spec.index] = int(rng.choice(others))
        else:
            step = int(np.rint(rng.normal(0.0, NUMERICAL_STEP * (spec.hi - spec.lo))))
            step = step if step != 0 else int(rng.choice((-1, 1)))
            changes[spec.index] = min(max(value + step, spec.lo), spec.hi)
    return voice.replace(changes)


@dataclass(frozen=True)
class Found:
    """A voice the search found, and how it compares.

    Attributes:
        voice: the voice, tuned.
        score: spec_mae of its render against the recording (plus the sub-20 Hz penalty).
        source: where it came from: ``"network"``, ``"library: NAME (SOURCE)"``, or either followed by
            ``" + search"`` once the search improved on it.
        tuning: its pitch against the recording's.
        renders: renders spent when it was found (scores and pitch measurements).
        elapsed_ms: milliseconds since the search started.
    """

    voice: Voice
    score: float
    source: str
    tuning: Tuning
    renders: int = 0
    elapsed_ms: float = 0.0

    @property
    def playable(self) -> bool:
        """It plays at the recording's pitch (or the recording has none)."""
        return self.tuning.input_f0_hz is None or self.tuning.in_tune


@dataclass
class SearchResult:
    """What a search returns.

    Attributes:
        best: the best voice found.
        start: the best start (before any mutation).
        found: every new best in the order found (the stream a caller sent).
        renders: renders spent.
        elapsed_ms: time spent.
    """

    best: Found
    start: Found
    found: list[Found] = field(default_factory=list)
    renders: int = 0
    elapsed_ms: float = 0.0


@dataclass(frozen=True)
class _Target:
    take: Take
    log_magnitude: np.ndarray
    subsonic: float


def _rank(found: Found) -> tuple[bool, float]:
    return (not found.playable, found.score)


class VoiceSearch:
    """Scores and improves voices against recordings; thread-safe (one dexed-py synth per thread).

    Args:
        sample_rate: the model rate.
        render_seconds: the window recordings are compared over (the model window).
        measure_pitch: the f0 of a voice played at the reference note (``Engine.voice_pitch``).
    """

    def __init__(self, sample_rate: int, render_seconds: float, measure_pitch: Callable[[Voice], F0Estimate]) -> None:
        self.sample_rate = sample_rate
        self.render_seconds = render_seconds
        self.measure_pitch = measure_pitch
        self._local = threading.local()

    def _renderer(self) -> Renderer:
        renderer = getattr(self._local, "renderer", None)
        if renderer is None:
            renderer = self._local.renderer = Renderer(self.sample_rate, NOTE_SECONDS, self.render_seconds)
        return renderer

    def render(self, voice: Voice, note: int = REFERENCE_NOTE, velocity: int = 85) -> np.ndarray:
        """``voice`` played at ``note`` over the comparison window (mono float32)."""
        return self._renderer().render(voice, note, velocity)

    def score(self, voice: Voice, targets: Sequence[_Target]) -> float:
        """Mean over the takes of spec_mae of ``voice`` played at each take's note and velocity against
        its magnitude spectrogram, plus :data:`SUBSONIC_WEIGHT` times the share of its energy below
        :data:`SUBSONIC_HZ` beyond the take's own."""
        total = 0.0
        for target in targets:
            audio = self.render(voice, target.take.note, target.take.velocity)
            excess = max(0.0, subsonic_share(audio, self.sample_rate) - target.subsonic)
            total += log_spec_mae(target.log_magnitude, log_magnitude(stft_magnitude(audio))) + SUBSONIC_WEIGHT * excess
        return total / len(targets)

    def targets(self, takes: Sequence[Take]) -> list[_Target]:
        """What :meth:`score` compares with, computed once per search."""
        return [_Target(take, log_magnitude(stft_magnitude(take.audio)), subsonic_share(take.audio, self.sample_rate))
                for take in takes]

    def run(self, takes: Sequence[Take], input_f0_hz: float | None, starts: Sequence[tuple[Voice, str]], *,
            budget_ms: float = DEFAULT_BUDGET_MS, max_renders: int | None = None, seed: int = 0,
            input_reason: str = "", on_better: Callable[[Found], None] | None = None,
            should_stop: Callable[[], bool] | None = None, cma_up_to: int = CMA_UP_TO, judged: int = 1) -> SearchResult:
        """Tune and score the starts, then improve the best ones until a budget or a stop request.

        Args:
            takes: the recordings to reproduce (one, or several notes and velocities of one sound; the
                starts are screened on the first alone).
            input_f0_hz: the pitch the voice must play at the reference note (the takes' f0 brought
                to it), ``None`` when unpitched.
            starts: (voice, source) pairs, the network's answer first.
            budget_ms: stop before a render would end past this many milliseconds (``inf``: none).
            max_renders: also stop after this many renders.
            seed: seeds the mutations.
            input_reason: why the recording is unpitched, for the report.
            on_better: called with each new best voice as soon as it is found (the first start included).
            should_stop: polled between renders; True ends the search (a newer request arrived).
            judged: the first this many starts are tuned and scored on every take at once (the others are
                screened on the first take and the closest tuned).
            cma_up_to: render budgets up to this (one take) improve the best start by CMA-ES, larger
                ones and time budgets alone by the (1+1)-ES.

        Returns:
            The best voice, the best start and every new best in order; never worse than the best start.
        """
        if not starts or not takes:
            raise ValueError("a search needs at least one take and one start (the network's answer)")
        started = time.perf_counter()
        targets = self.targets(takes)
        limit = max_renders if max_renders is not None else float("inf")
        renders = 0
        best: Found | None = None
        found: list[Found] = []

        def elapsed() -> float:
            return (time.perf_counter() - started) * 1000.0

        def measure(voice: Voice) -> F0Estimate:
            nonlocal renders
            renders += 1
            return self.measure_pitch(voice)

        def score(voice: Voice) -> float:
            nonlocal renders
            renders += 1
            return self.score(voice, targets)

        def out_of_budget() -> bool:
            spent = elapsed()
            return renders >= limit or spent + spent / max(renders, 1) > budget_ms or bool(should_stop and should_stop())

        def consider(candidate: Found) -> None:
            nonlocal best
            if best is None or _rank(candidate) < _rank(best):
                best = replace(candidate, renders=renders, elapsed_ms=elapsed())
                found.append(best)
                if on_better is not None:
                    on_better(best)

        def tuned(voice: Voice, source: str) -> Found:
            tuning = tune(voice, input_f0_hz, measure, input_reason=input_reason)
            return Found(tuning.voice, score(tuning.voice), source, tuning)

        scored = [tuned(*starts[0])]  # the first voice, at once
        consider(scored[0])
        for voice, source in starts[1:judged]:
            if out_of_budget():
                break
            scored.append(tuned(voice, source))
            consider(scored[-1])
        screened: list[tuple[float, int]] = []  # the other starts as they come (transpose predicted), cheaply:
        for number, (voice, _) in enumerate(starts[judged:], start=max(judged, 1)):  # on the first take alone
            if out_of_budget():
                break
            renders += 1
            screened.append((self.score(voice, targets[:1]), number))
        for _, number in sorted(screened)[:TUNED_STARTS]:  # the closest, tuned and scored again
            if out_of_budget():
                break
            scored.append(tuned(*starts[number]))
            consider(scored[-1])
        assert best is not None
        first = best
        first_scores: dict[tuple[int, ...], float] = {}

        def first_take(voice: Voice) -> float:
            if voice.values not in first_scores:
                first_scores[voice.values] = self.score(voice, targets[:1])
            return first_scores[voice.values]

        def improved(parent: Found, voice: Voice, voice_score: float) -> Found | None:
            """``voice`` as the parent's successor, tuned, if it plays in tune and scores better."""
            tuning = tune(voice, input_f0_hz, measure, input_reason=input_reason)
            if input_f0_hz is not None and not tuning.in_tune:
                return None  # a search never trades pitch for spectrum
            if tuning.voice != voice:
                voice_score = score(tuning.voice)
            candidate = Found(tuning.voice, voice_score, parent.source.removesuffix(" + search") + " + search", tuning)
            return candidate if _rank(candidate) < _rank(parent) else None

        parent = min(scored, key=_rank)
        if max_renders is not None and max_renders <= cma_up_to and len(targets) == 1:  # what a stalled one leaves
            strategy = ContinuousCma(parent.voice, seed)
            while not out_of_budget() and not strategy.done:
                generation = strategy.ask()
                scores = []
                for _, voice in generation:
                    if out_of_budget():
                        break
                    scores.append(score(voice))
                    if scores[-1] < parent.score and (better := improved(parent, voice, scores[-1])) is not None:
                        parent = better
                        consider(better)
                if len(scores) == len(generation):
                    strategy.tell([x for x, _ in generation], scores)
        rng = np.random.default_rng(seed)
        seen = {item.voice.values for item in scored}
        while not out_of_budget():
            child = mutate(parent.voice, rng)
            if child.values in seen:
                continue
            seen.add(child.values)
            if len(targets) > 1:  # several takes: a child clearly worse on the first take is not played on the others
                renders += 1
                if self.score(child, targets[:1]) > first_take(parent.voice) + FIRST_TAKE_SLACK:
                    continue
            child_score = score(child)
            if child_score < parent.score and (better := improved(parent, child, child_score)) is not None:
                parent = better
                consider(better)
        return SearchResult(best, first, found, renders, elapsed())


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
