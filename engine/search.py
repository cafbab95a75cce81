"""Multi-start anytime search: the voice whose sound is closest to a recording, in tune.

The starts are the network's answer and the library's nearest voices (:mod:`engine.library`).
The first is tuned and scored at once (the first voice); the others are screened by one render each
and the closest :data:`TUNED_STARTS` tuned. Tuning (:func:`engine.tuning.tune`) brings a voice to the
recording's pitch, and a score compares by render: the voice
played at the reference note, as a user plays it, against the recording, both from their onsets
(:mod:`engine.search_score`: log-spectral MAE plus log-mel dB / 20 by default, plus a penalty for
energy below 20 Hz beyond the recording's own, which thumps on monitors). A start that cannot play at
the recording's pitch loses to any that can. The best start is then improved: with a render budget up
to :data:`~engine.search_cma.CMA_UP_TO` by CMA-ES on its continuous parameters
(:mod:`engine.search_cma`; the ES takes what a stalled one leaves), otherwise by a (1+λ) evolution
strategy (:data:`ES_BATCH` mutations a batch) on all its learnable parameters (:func:`mutate`); an improvement is kept only
if the voice still plays within 50 cents of the recording and within :data:`DRIFT_CENTS` (or no farther
than before; re-tuned when its transpose must change), its pitch read quickly: the voice held still, off its
partials alone (the answer is then heard as played, its vibrato tracked, with the neural check, and an earlier
improvement taken where that hears it out of tune: :meth:`_Run.confirmed`); when no start could be tuned, the
best is improved all the same, by closer voices that play no farther off (or in tune). Every new best voice
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
from engine.pitch import F0Estimate, cents, pitch_renderer, voice_f0
from engine.render_pool import RenderPool
from engine.search_cma import CMA_UP_TO, ContinuousCma
from engine.search_score import DEFAULT_SCORE, SCORES, ScoreTarget, score_renders, targets_of
from engine.takes import Take
from engine.tuning import Tuning, heard_alike, kept_transpose, tune
from models.params import LEARNABLE, TRANSPOSE_CENTRE, TRANSPOSE_INDEX, Kind, ParamSpec
from models.render import NOTE_SECONDS, Renderer
from models.voice import Voice

__all__ = ["DEFAULT_BUDGET_MS", "DRIFT_CENTS", "Found", "SearchResult", "VoiceSearch", "holds_pitch", "mutate"]

DEFAULT_BUDGET_MS = 250.0
TUNED_STARTS = 6
"""Starts after the first are screened by one render as they come (their transpose predicted from
the library's stored f0) and only this many of the closest are tuned (a pitch measurement or three)."""
SENSITIVE = ("output_level", "coarse", "fine", "eg_rate1", "eg_rate2", "eg_level2", "eg_level3", "feedback", "algorithm")
SENSITIVE_WEIGHT = 3.0
SCALING = ("break_point", "left_depth", "right_depth", "left_curve", "right_curve", "rate_scaling", "key_vel_sens")
"""How an operator follows the key and the velocity: what several takes at other notes and velocities tell."""
SCALING_WEIGHT = 3.0
"""With several takes, how much more often a scaling parameter is mutated (the reference take's own search
has already fitted the rest)."""
NUMERICAL_STEP = 0.08  # standard deviation of a numerical change, as a share of the parameter's span
MOST_CHANGED = {False: 2, True: 4}
"""The most parameters one mutation changes, with one take and with several (where the parent has to move in more
ways at once to play every take closer)."""
FIRST_TAKE_SLACK = 0.02
"""With several takes, a mutation scoring this much worse than its parent on the first take is
dropped without being played on the others (a 6x cheaper search)."""
SCREEN_BATCH = 8
"""Starts screened a batch at a time (scored on the pool's workers at once)."""
DRIFT_CENTS = 10.0
"""An improvement may play at most this far from the recording's pitch, or no farther than its parent: a
score that weighs timbre more than exact partial positions (log-mel) would otherwise let the pitch drift
anywhere within the 50 cents a start may be off."""
ES_BATCH = 4
"""Mutations of the parent played a batch at a time by the (1+λ)-ES; fixed, so the voice found does not
depend on the number of workers."""
SEARCHED = " + search"
"""What the source of a start's improvement ends with."""


def _draw_weights(scaling: float) -> np.ndarray:
    kinds = [p.name.split("_", 1)[1] if p.op is not None else p.name for p in LEARNABLE]  # op3_coarse -> coarse
    weights = np.array([SENSITIVE_WEIGHT if kind in SENSITIVE else scaling if kind in SCALING else 1.0 for kind in kinds])
    return weights / weights.sum()


_WEIGHTS = {False: _draw_weights(1.0), True: _draw_weights(SCALING_WEIGHT)}


def mutate(voice: Voice, rng: np.random.Generator, takes: int = 1) -> Voice:
    """``voice`` with one or two learnable parameters changed, up to four with several ``takes``
    (:data:`MOST_CHANGED`; numerical ones by a few steps, categorical ones to another class; the parameters that
    shape the sound most drawn more often, and with several takes also those that scale it over the keys and
    velocities)."""
    changes: dict[int, int] = {}
    weights = _WEIGHTS[takes > 1]
    for index in rng.choice(len(LEARNABLE), size=int(rng.integers(1, MOST_CHANGED[takes > 1] + 1)), replace=False, p=weights):
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
        score: its render against the recording (:func:`engine.search_score.score_renders`; 0 = identical).
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


def holds_pitch(tuning: Tuning, parent: Tuning) -> bool:
    """A successor of a ``parent`` in tune: in tune, and within :data:`DRIFT_CENTS` of the recording's pitch or no
    farther than the parent. A successor of a parent out of tune or unpitched (no start could be tuned): in tune,
    or no farther off than the parent (unpitched after an unpitched one: no wrong pitch where there was none)."""
    if parent.in_tune:
        return tuning.in_tune and abs(tuning.cents or 0.0) <= max(DRIFT_CENTS, abs(parent.cents or 0.0))
    if tuning.in_tune:
        return True
    if parent.cents is None:
        return tuning.cents is None
    return tuning.cents is not None and abs(tuning.cents) <= abs(parent.cents)


def _rank(found: Found) -> tuple[bool, float]:
    return (not found.playable, found.score)


def _unbeatable(found: Found) -> bool:
    """Nothing can rank before it: it plays at the recording's pitch and scores 0 (its renders are the takes; no
    score is below 0), so a search that reaches it stops there instead of spending the rest of its budget."""
    return found.playable and found.score <= 0.0


class VoiceSearch:
    """Scores and improves voices against recordings; thread-safe (one dexed-py synth per thread).

    Args:
        sample_rate: the model rate.
        render_seconds: the window recordings are compared over (the model window).
        pool: worker processes that score batches of voices and measure their pitches
            (:class:`engine.render_pool.RenderPool`); ``None``: this thread renders. Either way the same search gives
            the same voice.
        score: how a render is compared with a recording (:data:`engine.search_score.SCORES`).
    """

    def __init__(self, sample_rate: int, render_seconds: float, pool: RenderPool | None = None,
                 score: str = DEFAULT_SCORE) -> None:
        if score not in SCORES:
            raise ValueError(f"score {score!r}: one of {', '.join(SCORES)}")
        self.score_kind = score
        self.sample_rate = sample_rate
        self.render_seconds = render_seconds
        self.pool = pool
        self._local = threading.local()

    def _renderer(self) -> Renderer:
        renderer = getattr(self._local, "renderer", None)
        if renderer is None:
            renderer = self._local.renderer = Renderer(self.sample_rate, NOTE_SECONDS, self.render_seconds)
        return renderer

    def measure_pitch(self, voice: Voice, checked: bool = True) -> F0Estimate:
        """The f0 of ``voice`` played at the reference note, as a listener hears it (:func:`engine.pitch.voice_f0`;
        what the pool's workers measure; ``checked=False``: the quick reading, held still and unchecked)."""
        renderer = getattr(self._local, "pitch_renderer", None)
        if renderer is None:
            renderer = self._local.pitch_renderer = pitch_renderer(self.sample_rate)
        return voice_f0(voice, renderer, REFERENCE_NOTE, checked=checked)

    def render(self, voice: Voice, note: int = REFERENCE_NOTE, velocity: int = 85) -> np.ndarray:
        """``voice`` played at ``note`` over the comparison window (mono float32)."""
        return self._renderer().render(voice, note, velocity)

    def score(self, voice: Voice, targets: Sequence[ScoreTarget], first: float | None = None) -> float:
        """:func:`engine.search_score.score_renders` of ``voice``, rendered on this thread."""
        return score_renders(self._renderer(), voice, targets, first)

    def scores(self, voices: Sequence[Voice], targets: Sequence[ScoreTarget],
               firsts: Sequence[float] | None = None) -> list[float]:
        """The score of each voice, in order: on the pool's workers when there is one (``firsts``: each one's score
        against the first target alone, already known)."""
        if self.pool is not None and len(voices) > 1:
            return self.pool.scores(voices, targets, firsts)
        return [self.score(voice, targets, first) for voice, first in zip(voices, firsts or [None] * len(voices), strict=True)]

    def targets(self, takes: Sequence[Take], score: str | None = None) -> list[ScoreTarget]:
        """What :meth:`score` compares with, computed once per search (``score``: another comparison than the
        search's, :data:`engine.search_score.SCORES`)."""
        return targets_of(takes, self.sample_rate, score or self.score_kind)

    def run(self, takes: Sequence[Take], input_f0_hz: float | None, starts: Sequence[tuple[Voice, str]], *,
            budget_ms: float = DEFAULT_BUDGET_MS, max_renders: int | None = None, seed: int = 0,
            input_reason: str = "", on_better: Callable[[Found], None] | None = None,
            should_stop: Callable[[], bool] | None = None, cma_up_to: int = CMA_UP_TO, judged: int = 1,
            input_ambiguous: tuple[float, float] | None = None) -> SearchResult:
        """Tune and score the starts, then improve the best one until a budget or a stop request.

        Args:
            takes: the recordings to reproduce (one, or several notes and velocities of one sound; the
                starts are screened on the first alone).
            input_f0_hz: the pitch the voice must play at the reference note (the takes' f0 brought
                to it), ``None`` when unpitched.
            starts: (voice, source) pairs, the network's answer first.
            budget_ms: stop before a batch of renders would end past this many milliseconds (``inf``: none).
            max_renders: also stop after this many renders.
            seed: seeds the search.
            input_reason: why the recording is unpitched, for the report.
            on_better: called with each new best voice as soon as it is found (the first start included).
            should_stop: polled between batches; True ends the search (a newer request arrived).
            cma_up_to: render budgets up to this (one take) improve the best start by CMA-ES, larger
                ones and time budgets alone by the (1+λ)-ES.
            judged: the first this many starts are tuned and scored on every take at once (the others are
                screened on the first take and the closest tuned).
            input_ambiguous: the recording's partials' and neural f0 when the two trackers hear it apart: a
                voice they hear apart the same way is in tune at its partials' f0 (:func:`engine.tuning.heard_alike`).

        Returns:
            The best voice, the best start and every new best in order; never worse than the best start.
        """
        if not starts or not takes:
            raise ValueError("a search needs at least one take and one start (the network's answer)")
        run = _Run(self, takes, (input_f0_hz, input_reason, input_ambiguous), budget_ms, max_renders, on_better,
                   should_stop)
        return run.search(starts, seed, cma_up_to, judged)


class _Run:
    """One search: its budget, its counts and its best voice so far."""

    def __init__(self, search: VoiceSearch, takes: Sequence[Take],
                 pitch: tuple[float | None, str, tuple[float, float] | None], budget_ms: float, max_renders: int | None,
                 on_better: Callable[[Found], None] | None, should_stop: Callable[[], bool] | None) -> None:
        self.engine = search
        self.started = time.perf_counter()
        self.targets = search.targets(takes)
        self.input_f0_hz, self.input_reason, self.input_ambiguous = pitch
        self.budget_ms = budget_ms
        self.limit = max_renders if max_renders is not None else float("inf")
        self.on_better = on_better
        self.should_stop = should_stop
        self.renders = 0
        self.best: Found | None = None
        self.found: list[Found] = []
        self._first_take: dict[tuple[int, ...], float] = {}
        self._measured: dict[tuple[tuple[int, ...], bool], F0Estimate] = {}

    def elapsed(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0

    def room(self, wanted: int, cost: int = 1) -> int:
        """How many of ``wanted`` voices, ``cost`` renders each, the budget allows now (0: stop)."""
        spent = self.elapsed()
        if self.should_stop is not None and self.should_stop():
            return 0
        each = spent / max(self.renders, 1) * cost
        if spent + each * wanted > self.budget_ms:
            wanted = 1 if spent + each <= self.budget_ms else 0
        return int(max(0, min(wanted, (self.limit - self.renders) // cost)))

    def measure(self, voice: Voice, checked: bool = True) -> F0Estimate:
        self.renders += 1
        measured = self._measured.get((voice.values, checked))
        if measured is None:
            measured = self.engine.measure_pitch(voice, checked)
        return heard_alike(measured, self.input_ambiguous)

    def prefetch(self, voices: Sequence[Voice], checked: bool = True) -> None:
        """Measure at once, on the pool's workers, what tuning these voices measures first: each centred, and as it
        is (where it is played when its pitch stays its parent's); :meth:`measure` then finds them, where tuning
        alone waits for one measurement after another. A measurement counts as a render when tuning uses it, as
        if made then, so the voice found does not depend on it."""
        if self.engine.pool is None or self.input_f0_hz is None:
            return
        wanted = {}
        for voice in voices:
            for measured in (voice.replace({TRANSPOSE_INDEX: TRANSPOSE_CENTRE}), voice):
                if (measured.values, checked) not in self._measured:
                    wanted[measured.values, checked] = measured
        found = self.engine.pool.pitches(list(wanted.values()), REFERENCE_NOTE, checked)
        self._measured.update(zip(wanted, found, strict=True))

    def scores(self, voices: Sequence[Voice], targets: Sequence[ScoreTarget] | None = None,
               firsts: Sequence[float] | None = None) -> list[float]:
        """Each voice's score, a render per target it is played against (none for a known ``firsts`` score)."""
        targets = self.targets if targets is None else targets
        self.renders += len(voices) * (len(targets) - (firsts is not None))
        return self.engine.scores(voices, targets, firsts)

    def consider(self, candidate: Found) -> None:
        if self.best is None or _rank(candidate) < _rank(self.best):
            self.best = replace(candidate, renders=self.renders, elapsed_ms=self.elapsed())
            self.found.append(self.best)
            if self.on_better is not None:
                self.on_better(self.best)

    def tune(self, voice: Voice, checked: bool = True) -> Tuning:
        """``voice`` tuned to the recording (:func:`engine.tuning.tune`; ``checked``: its pitch measured with the
        neural check); for a recording with no pitch, as it is, unmeasured: nothing the search decides depends on
        the pitch then, and :meth:`search` measures its answer."""
        if self.input_f0_hz is None:
            return kept_transpose(voice, self.input_reason)
        return tune(voice, self.input_f0_hz, lambda played: self.measure(played, checked), input_reason=self.input_reason)

    def tuned(self, voice: Voice, source: str) -> Found:
        tuning = self.tune(voice)
        return Found(tuning.voice, self.scores([tuning.voice])[0], source, tuning)

    def improved(self, parent: Found, voice: Voice, voice_score: float) -> Found | None:
        """``voice`` as the parent's successor, tuned, if it plays in tune (:data:`DRIFT_CENTS`) and scores better."""
        self.prefetch([voice], checked=False)
        tuning = self.tune(voice, checked=False)
        if self.input_f0_hz is not None and not holds_pitch(tuning, parent.tuning):
            return None  # a search never trades pitch for spectrum
        if tuning.voice != voice:
            voice_score = self.scores([tuning.voice])[0]
        candidate = Found(tuning.voice, voice_score, parent.source.removesuffix(SEARCHED) + SEARCHED, tuning)
        return candidate if _rank(candidate) < _rank(parent) else None

    def search(self, starts: Sequence[tuple[Voice, str]], seed: int, cma_up_to: int, judged: int) -> SearchResult:
        scored = [self.tuned(*starts[0])]  # the first voice, at once
        self.consider(scored[0])
        for voice, source in starts[1:judged]:
            if not self.room(1):
                break
            scored.append(self.tuned(voice, source))
            self.consider(scored[-1])
        scored += self._screen(starts, max(judged, 1))
        assert self.best is not None
        first = self.best
        parent = min(scored, key=_rank)
        if self.limit <= cma_up_to and len(self.targets) == 1:  # what a stalled CMA-ES leaves goes to the ES
            parent = self._cma(parent, seed)
        self._evolve(parent, np.random.default_rng(seed), {item.voice.values for item in scored})
        if self.input_f0_hz is None:  # the answer's own pitch, for the report
            assert self.best is not None
            best = replace(self.best, tuning=tune(self.best.voice, None, self.measure, input_reason=self.input_reason))
        else:
            best = self.confirmed()
        return SearchResult(best, first, self.found, self.renders, self.elapsed())

    def confirmed(self) -> Found:
        """The best voice found that a listener hears at the recording's pitch. The search reads the pitch of its
        improvements quickly (held still, off their partials alone: the neural check is a third of the time a voice
        whose loudest partial is not its fundamental takes to measure, a vibrato's track more); so the best is heard
        again as played, and where that hears it out of tune the improvements before it are, by bisection down to
        the best start (tuned as heard): the latest one heard in tune wins, its pitch as heard."""
        assert self.best is not None
        improvements = [found for found in self.found if found.source.endswith(SEARCHED)]
        if not improvements:
            return self.best
        if (heard := self._heard(improvements[-1])) is not None:
            return heard
        alike, unlike, answer = -1, len(improvements) - 1, self.found[len(self.found) - len(improvements) - 1]
        while unlike - alike > 1:
            middle = (alike + unlike) // 2
            if (heard := self._heard(improvements[middle])) is not None:
                alike, answer = middle, heard
            else:
                unlike = middle
        return answer

    def _heard(self, found: Found) -> Found | None:
        """``found`` with its pitch as a listener hears it played (its own render, a vibrato tracked, with the neural
        check), where that keeps it as in tune as the search found it (within 50 cents if it was, else no farther
        off); ``None`` where it does not."""
        assert self.input_f0_hz is not None
        heard = self.measure(found.voice)
        off = None if heard.f0_hz is None else cents(heard.f0_hz, self.input_f0_hz)
        tuning = replace(found.tuning, voice_f0_hz=heard.f0_hz, cents=off,
                         pitch="pitched" if heard.f0_hz is not None else f"voice {heard.reason or 'unpitched'}")
        kept = tuning.in_tune if found.tuning.in_tune else holds_pitch(tuning, found.tuning)
        return replace(found, tuning=tuning) if kept else None

    def _screen(self, starts: Sequence[tuple[Voice, str]], skip: int) -> list[Found]:
        """The starts after the first ``skip``, screened by one render each on the first take (in batches of
        :data:`SCREEN_BATCH`, transpose as predicted), then the closest :data:`TUNED_STARTS` tuned and scored."""
        screened: list[tuple[float, int]] = []
        numbers = list(range(skip, len(starts)))
        for at in range(0, len(numbers), SCREEN_BATCH):
            batch = numbers[at:at + SCREEN_BATCH][: self.room(SCREEN_BATCH)]
            if not batch:
                break
            scores = self.scores([starts[n][0] for n in batch], self.targets[:1])
            screened += zip(scores, batch, strict=True)
        scored = []
        closest = [number for _, number in sorted(screened)[:TUNED_STARTS]]
        self.prefetch([starts[number][0] for number in closest])
        for number in closest:
            if not self.room(1):
                break
            scored.append(self.tuned(*starts[number]))
            self.consider(scored[-1])
        return scored

    def _cma(self, parent: Found, seed: int) -> Found:
        """CMA-ES on the parent's continuous parameters, a generation a batch; the best found."""
        strategy = ContinuousCma(parent.voice, seed)
        while not strategy.done and not _unbeatable(parent):
            generation = strategy.ask()
            room = self.room(len(generation), len(self.targets))
            if not room:
                break
            scores = self.scores([voice for _, voice in generation[:room]])
            for (_, voice), score in zip(generation, scores, strict=False):
                if score < parent.score and (better := self.improved(parent, voice, score)) is not None:
                    parent = better
                    self.consider(better)
            if room < len(generation):
                break
            strategy.tell([x for x, _ in generation], scores)
        return parent

    def _step(self, parent: Found, voices: Sequence[Voice], scores: Sequence[float]) -> Found:
        """The closest of ``voices`` (scored ``scores``) that scores better than ``parent`` and plays in tune, or
        ``parent``."""
        for score, index in sorted(zip(scores, range(len(voices)), strict=True)):
            if score >= parent.score:
                break
            if (better := self.improved(parent, voices[index], score)) is not None:
                self.consider(better)
                return better
        return parent

    def _evolve(self, parent: Found, rng: np.random.Generator, seen: set[tuple[int, ...]]) -> None:
        """The (1+λ)-ES: :data:`ES_BATCH` mutations of the parent a batch; the best that plays in tune and scores
        better replaces it."""
        while not _unbeatable(parent) and (room := self.room(ES_BATCH)):
            children: list[Voice] = []
            for _ in range(ES_BATCH * 50):  # mutations already played are drawn again (a bounded number of times)
                child = mutate(parent.voice, rng, len(self.targets))
                if child.values not in seen:
                    seen.add(child.values)
                    children.append(child)
                if len(children) == ES_BATCH:
                    break
            children = children[:room]
            if not children:
                return
            firsts = None
            if len(self.targets) > 1:  # several takes: a child clearly worse on the first take is not played on the others
                bar = self._first_take_score(parent.voice) + FIRST_TAKE_SLACK
                screened = [(child, score) for child, score in zip(children, self.scores(children, self.targets[:1]),
                                                                    strict=True) if score <= bar]
                screened = screened[:self.room(len(screened), len(self.targets) - 1)]
                children, firsts = [child for child, _ in screened], [score for _, score in screened]
            parent = self._step(parent, children, self.scores(children, firsts=firsts))

    def _first_take_score(self, voice: Voice) -> float:
        if voice.values not in self._first_take:
            self.renders += 1
            self._first_take[voice.values] = self.engine.score(voice, self.targets[:1])
        return self._first_take[voice.values]
