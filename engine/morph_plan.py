"""Planning a morph A -> B that changes the sound a little at every step and heads toward B.

Measured with the log-spectral MAE of neighbouring steps (:mod:`engine.eval.morph`), a DX7 voice's
sound is far from every other voice's, and even one parameter moved by one unit costs a sizeable
distance: blending every parameter a little at a time (naive interpolation, or the latent line,
which does the same through the model) pays that cost at every step and wanders. A planned path
instead moves *groups* of parameters (an operator's frequency, its output level, its envelope
rates, ...; :data:`GROUPS`) from A's values to B's, a few groups a step:

1. Each differing group is switched alone on A and, in reverse, on B, and its cost each way
   measured; groups that cost little on A's side go first, those that cost little on B's side last
   (so a categorical switch lands where it is least audible, e.g. an operator's frequency while its
   level is low). Groups heard on neither side switch with the first.
2. The chain A, A + g1, A + g1 + g2, ..., B is rendered; its largest steps are split by inserting
   half-way blends of their numerical parameters.
3. A dynamic program picks ``steps`` steps along the chain: the smallest largest step first, then
   the least sum of squared steps, never (unless nothing else is possible) a step away from B.

Groups are ordered on short renders (1.5 s); the path is laid on renders of the measure's own note
(3 s held of 4 s: shorter ones miss the late sustain and the release and pick worse paths), every
fourth STFT frame (:class:`Sketch`). Each voice is rendered once, on two threads: about a hundred
renders, a quarter of a second of CPU.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor

import numpy as np
import scipy.fft

from engine.morph_path import PLAN_SWITCHED, MorphPlan, PadPlan, Spokes
from models.compiled import compiled
from models.dsp import stft_magnitude
from models.errors import ModelInputError
from models.metrics import log_magnitude
from models.params import BY_NAME, LEARNABLE, NAME_LENGTH, NAME_START, TRANSPOSE_INDEX, Kind
from models.render import SAMPLE_RATE, Renderer
from models.voice import Voice

__all__ = ["DEFAULT_STEPS", "GROUPS", "Sketch", "compile_planner", "plan_centre", "plan_morph", "plan_pad"]

DEFAULT_STEPS = 8
"""Steps of a planned morph: 9 waypoints, A and B included."""
SKETCH_NOTE = (60, 85)
SKETCH_NOTE_SECONDS = 3.0  # the measure's note: shorter renders miss the late sustain and release, and rank worse
SKETCH_RENDER_SECONDS = 4.0
SKETCH_HOP = 1024  # every fourth of the measure's frames: the same ranking for a quarter of the FFTs
ORDER_NOTE_SECONDS, ORDER_RENDER_SECONDS, ORDER_HOP = 1.0, 1.5, 512
WORKERS = 2
SPLITS = 8
"""Step splits (one or two renders each) a plan may spend on its largest steps."""
CENTRE_ENDS_WEIGHT = 0.5
"""How much a centre's distance to its chain's ends (A and D on the chain A -> D) counts against its distance to the
other two corners (B and C) when the states tried as the centre are ranked."""
CENTRE_CANDIDATES = 3
"""How many states of each diagonal's chain (A -> D and B -> C), the least lopsided first (each a distinct sound:
:data:`CENTRE_APART`), are tried as the centre:
each one's spokes are planned, and the centre kept is the one whose diagonals have the fewest steps not heading
toward their end on the sketches, then the smallest largest step. Chosen on 48 validation diagonals, toward the
end / largest step against naive's / pad planning: the least lopsided state of A -> D alone 91.4 % / 0.73x /
1.5 s; the best of 8 states of A -> D 94.3 % / 0.73x / 3.2 s; of 2, 3 and 8 states of each chain 93.8 % /
0.73x / 2.7 s, 94.5 % / 0.71x / 2.9-3.3 s and 95.6 % / 0.72x / 6.1 s."""
CENTRE_APART = 0.1
"""How far apart (:func:`distance` of their sketches) the states tried as the centre must be: neighbouring states of a
chain a near-silent group apart sound alike and plan alike, so the next distinct one is tried instead. Chosen on
validation diagonals (``--quads 24`` and ``--quads 48 --seed 1``, 144 in all), steps toward the end / largest step
against naive's: any state (the rule before) 1 075 of 1 152 / 0.714x and 0.736x; 0.02 1 079 / 0.714x and 0.726x; 0.1 1 083 /
0.701x and 0.736x; 0.3 1 086 / 0.714x and 0.749x, the step goal's edge."""
AWAY_PENALTY = 1.0  # added to a step's squared distance when it does not bring the sound closer to B
SPOKE_STEP_SLACK = 0.3
"""How much larger than the least possible largest step a spoke's steps may be, so that they can head toward the
opposite corner (a line's take the least: its chain heads toward B already). Chosen on 48 validation diagonals:
0 -> 0.3 took the steps toward the end from 88 % to 91 %, the largest step from 0.67x to 0.73x naive's."""
N_FFT = 1024  # as the measure (models.metrics.stft_magnitude)


def _operator_groups(op: int) -> list[tuple[str, tuple[int, ...]]]:
    def index(*suffixes: str) -> tuple[int, ...]:
        return tuple(BY_NAME[f"op{op}_{suffix}"].index for suffix in suffixes)

    return [
        (f"op{op} frequency", index("osc_mode", "coarse", "fine", "detune")),
        (f"op{op} level", index("output_level", "key_vel_sens", "amp_mod_sens")),
        (f"op{op} rates", index("eg_rate1", "eg_rate2", "eg_rate3", "eg_rate4", "rate_scaling")),
        (f"op{op} envelope", index("eg_level1", "eg_level2", "eg_level3", "eg_level4")),
        (f"op{op} scaling", index("break_point", "left_depth", "right_depth", "left_curve", "right_curve")),
    ]


def _global(*names: str) -> tuple[int, ...]:
    return tuple(BY_NAME[name].index for name in names)


GROUPS: tuple[tuple[str, tuple[int, ...]], ...] = (
    *(group for op in range(1, 7) for group in _operator_groups(op)),
    ("algorithm", _global("algorithm")),
    ("feedback", _global("feedback")),
    ("key sync", _global("osc_key_sync")),
    ("pitch envelope", _global(*(f"pitch_eg_{kind}{i}" for kind in ("rate", "level") for i in range(1, 5)))),
    ("lfo", _global("lfo_speed", "lfo_delay", "lfo_pm_depth", "lfo_am_depth", "lfo_sync", "lfo_wave", "pitch_mod_sens")),
    ("transpose", (TRANSPOSE_INDEX,)),
)
"""Parameters a planned path moves together: every learnable parameter and transpose, once each."""

_NUMERICAL = frozenset(p.index for p in LEARNABLE if p.kind is Kind.NUMERICAL)
_NAME = tuple(range(NAME_START, NAME_START + NAME_LENGTH))


class Sketch:
    """A voice's render at (60, 85) as a log-magnitude spectrogram; thread-safe (a renderer per thread).

    Args:
        note_seconds: how long the note is held.
        render_seconds: the render's length.
        hop: STFT hop in samples at 22 050 Hz (a longer hop than the measure's 256 looks at fewer frames).
        sample_rate: the render's rate (the FFT keeps 1024 samples' worth of 22 050 Hz audio).
    """

    def __init__(self, note_seconds: float = SKETCH_NOTE_SECONDS, render_seconds: float = SKETCH_RENDER_SECONDS,
                 hop: int = SKETCH_HOP, sample_rate: int = SAMPLE_RATE) -> None:
        self.note_seconds = note_seconds
        self.render_seconds = render_seconds
        self.sample_rate = sample_rate
        self.n_fft = round(N_FFT * sample_rate / SAMPLE_RATE)
        self.hop = max(1, round(hop * sample_rate / SAMPLE_RATE))
        self._local = threading.local()
        self._window = np.hanning(self.n_fft + 1)[:-1].astype(np.float32)  # periodic Hann; float32: a float32 FFT

    def __call__(self, voice: Voice) -> np.ndarray:
        """The log10 magnitude (floored at 1e-4) of the render's STFT: (frames, bins) float32."""
        renderer = getattr(self._local, "renderer", None)
        if renderer is None:
            renderer = self._local.renderer = Renderer(self.sample_rate, self.note_seconds, self.render_seconds)
        # SciPy's FFT: NumPy 2.4's float32 FFT is 5 times slower (plans 8-17 % faster in dexbridge eval-morph, with
        # log_magnitude's natural log)
        return log_magnitude(stft_magnitude(renderer.render(voice, *SKETCH_NOTE), self.n_fft, self.hop,
                                            window=self._window, fft=scipy.fft.rfft))


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two sketches (the log-spectral MAE)."""
    return float(_mean_abs(a.reshape(-1), b.reshape(-1)))


class _Sketches:
    """Sketches of voices by their sound parameters, each rendered once, batches on a thread pool."""

    def __init__(self, sketch: Sketch, pool: Executor | None, width: int) -> None:
        self.sketch = sketch
        self.pool = pool
        self.width = width if pool is not None else 1  # renders the pool makes at once
        self._cache: dict[tuple[int, ...], np.ndarray] = {}

    def __call__(self, voice: Voice) -> np.ndarray:
        key = voice.values[:TRANSPOSE_INDEX + 1]
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self.sketch(voice)
        return found

    def missing(self, voices: Sequence[Voice]) -> list[Voice]:
        """The voices not rendered yet, each sound once."""
        return list({v.values[:TRANSPOSE_INDEX + 1]: v for v in voices
                     if v.values[:TRANSPOSE_INDEX + 1] not in self._cache}.values())

    def prefetch(self, voices: Sequence[Voice]) -> None:
        """Render the voices not rendered yet, on the pool's threads."""
        missing = self.missing(voices)
        if self.pool is None or len(missing) < 2:
            return
        for voice, found in zip(missing, self.pool.map(self.sketch, missing), strict=True):
            self._cache[voice.values[:TRANSPOSE_INDEX + 1]] = found


def _switch(voice: Voice, source: Voice, indices: Sequence[int]) -> Voice:
    return voice.replace({i: source[i] for i in indices})


def _differing(a: Voice, b: Voice) -> list[tuple[int, ...]]:
    groups = [tuple(i for i in indices if a[i] != b[i]) for _, indices in GROUPS]
    return [group for group in groups if group]


def _order(a: Voice, b: Voice, groups: list[tuple[int, ...]], sketches: _Sketches) -> list[tuple[int, ...]]:
    """Groups cheap to switch on A's side first, cheap on B's side last; those that change neither side's sound
    (a key sync, a scaling that does not reach the sketch's key, an LFO without depth: about one group in nine)
    switched with the first, so that the chain has no state that sounds like the one before it."""
    sketches.prefetch([a, b, *(_switch(a, b, g) for g in groups), *(_switch(b, a, g) for g in groups)])
    fa, fb = sketches(a), sketches(b)
    on_a = {group: distance(fa, sketches(_switch(a, b, group))) for group in groups}
    on_b = {group: distance(fb, sketches(_switch(b, a, group))) for group in groups}
    silent = [i for group in groups if on_a[group] == on_b[group] == 0.0 for i in group]
    heard = sorted((group for group in groups if on_a[group] or on_b[group]), key=lambda g: on_a[g] - on_b[g])
    if not heard:
        return [tuple(silent)]
    return [(*heard[0], *silent), *heard[1:]]


def _halfway(s: Voice, t: Voice, keep_switched: bool) -> Voice | None:
    """Numerical parameters halfway from ``s`` to ``t``; the switched ones from ``s`` (``keep_switched``)
    or ``t``. None when no numerical parameter moves by more than one unit."""
    values = list(s.values if keep_switched else t.values)
    moved = False
    for i in _NUMERICAL:
        if abs(t[i] - s[i]) > 1:
            values[i] = (s[i] + t[i]) // 2
            moved = True
        else:
            values[i] = s[i] if keep_switched else t[i]
    return Voice(tuple(values)) if moved else None


def _middles(s: Voice, t: Voice) -> list[Voice]:
    """The half-way blends tried between ``s`` and ``t``: with the switched parameters from ``s``, and, where a
    step switches a parameter that :data:`PLAN_SWITCHED` names, from ``t`` too."""
    switches = any(s[j] != t[j] for j in PLAN_SWITCHED)
    return [m for keep in ((True, False) if switches else (True,)) if (m := _halfway(s, t, keep)) is not None]


def _split(chain: list[Voice], sketches: _Sketches, budget: int) -> list[Voice]:
    """Split the chain's largest steps by half-way blends while that lowers them.

    A step's blends are rendered with, where the pool has a thread to spare, those of the next largest step,
    which is most often split next: the same plan, with the render threads kept busy."""
    steps = [distance(sketches(chain[i]), sketches(chain[i + 1])) for i in range(len(chain) - 1)]
    stuck: set[int] = set()
    for _ in range(budget):
        candidates = [int(i) for i in np.argsort(steps)[::-1] if i not in stuck]
        if not candidates:
            break
        i = candidates[0]
        s, t = chain[i], chain[i + 1]
        best: tuple[float, Voice, float, float] | None = None
        middles = _middles(s, t)
        spare = sketches.width - len(sketches.missing(middles))
        ahead = _middles(chain[candidates[1]], chain[candidates[1] + 1]) if spare > 0 and len(candidates) > 1 else []
        sketches.prefetch([*middles, *sketches.missing(ahead)[:spare]])
        for middle in middles:
            first, second = distance(sketches(s), sketches(middle)), distance(sketches(middle), sketches(t))
            if best is None or max(first, second) < best[0]:
                best = (max(first, second), middle, first, second)
        if best is None or best[0] >= steps[i]:
            stuck.add(i)
            continue
        chain.insert(i + 1, best[1])
        steps[i:i + 1] = [best[2], best[3]]
        stuck = {j + (j > i) for j in stuck}
    return chain


def _select(features: list[np.ndarray], steps: int, opposite: np.ndarray | None = None) -> list[int]:
    """Indices of ``steps + 1`` chain states, 0 and last included: least largest step, then least
    sum of squared steps plus a penalty for each step that does not bring the sound closer to the end
    (with ``opposite``, a spoke's: steps up to :data:`SPOKE_STEP_SLACK` larger than the least largest step,
    a penalty for each step that does not bring it closer to the opposite corner, and for each that does not
    take it farther from its own)."""
    n = len(features)
    if n - 1 <= steps:
        return list(range(n))
    stacked = np.stack([f.reshape(-1) for f in features])
    dist = _distances(stacked)
    detours = _detours(stacked, dist, opposite)
    dist[np.tril_indices(n)] = np.inf  # steps only go forward
    worst = np.full(n, np.inf)
    worst[0] = 0.0
    for _ in range(steps):
        worst = np.min(np.maximum(worst[:, None], dist), axis=0)
    allowed = dist <= worst[-1] * (1 + 1e-9 + (0.0 if opposite is None else SPOKE_STEP_SLACK))
    cost = np.where(allowed, dist**2 + AWAY_PENALTY * detours, np.inf)
    total = np.full(n, np.inf)
    total[0] = 0.0
    back = []
    for _ in range(steps):
        paths = total[:, None] + cost
        previous = np.argmin(paths, axis=0)
        back.append(previous)
        total = paths[previous, np.arange(n)]
    path = [n - 1]
    for previous in reversed(back):
        path.append(int(previous[path[-1]]))
    return path[::-1]


@compiled(reassociate=True)
def _mean_abs(x: np.ndarray, y: np.ndarray) -> float:  # pragma: no cover - compiled
    """The mean absolute difference of two float32 vectors, summed in float64."""
    total = 0.0
    for k in range(x.shape[0]):
        total += abs(np.float64(x[k]) - np.float64(y[k]))
    return total / x.shape[0]


@compiled
def _distances(stacked: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """(n, n) mean absolute differences of the rows of ``stacked`` (n, size) float32."""
    n = stacked.shape[0]
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            out[i, j] = out[j, i] = _mean_abs(stacked[i], stacked[j])
    return out


@compiled
def _distances_to(stacked: np.ndarray, target: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """(n,) mean absolute differences of the rows of ``stacked`` (n, size) float32 to ``target`` (size,)."""
    out = np.empty(stacked.shape[0])
    for i in range(stacked.shape[0]):
        out[i] = _mean_abs(stacked[i], target)
    return out


def _detours(stacked: np.ndarray, dist: np.ndarray, opposite: np.ndarray | None) -> np.ndarray:
    """(n, n): for the step from state i to state j, how many of its rules it breaks (0, 1 or 2); ``dist`` holds the
    states' distances to one another (:func:`_distances`)."""
    if opposite is None:
        to_end = dist[:, -1]
        return (to_end[None, :] >= to_end[:, None]).astype(np.float64)
    to_far = _distances_to(stacked, np.ascontiguousarray(opposite, dtype=np.float32).reshape(-1))
    from_start = dist[0]
    return (to_far[None, :] >= to_far[:, None]).astype(np.float64) + (from_start[None, :] <= from_start[:, None])


def compile_planner() -> None:
    """Compile the planner's loops (or read them from Numba's cache: a few milliseconds once Numba runs in the
    process, a quarter of a second before), so that a plan that is timed does not wait for them."""
    states = np.zeros((2, 1), np.float32)
    _distances(states)
    _distances_to(states, states[0])


def plan_morph(a: Voice, b: Voice, *, steps: int = DEFAULT_STEPS, sketch: Sketch | None = None,
               order_sketch: Sketch | None = None, splits: int = SPLITS, workers: int = WORKERS) -> MorphPlan:
    """Plan a morph from ``a`` to ``b`` (see the module's description).

    Args:
        a: the start voice (position 0).
        b: the end voice (position 1).
        steps: steps between waypoints (fewer when A and B differ in too few parameters to fill them).
        sketch: the renders the path is measured with (default :class:`Sketch`: the measure's note).
        order_sketch: the renders the groups are ordered with (default: a 1.5 s render, cheaper; the
            order needs only a rough cost of each group).
        splits: step splits to spend on the largest steps.
        workers: threads rendering at once (dexed-py renders without holding the GIL).

    Returns:
        The plan: waypoint 0 is ``a`` and the last is ``b``, exactly; waypoints before the middle carry
        A's name, the others B's.

    Raises:
        ModelInputError: ``steps`` < 1.
    """
    with _pool(workers) as pool:
        return _plan(a, b, steps, _Ears(sketch, order_sketch, pool, workers), splits)


def plan_pad(corners: Sequence[Voice], *, steps: int = DEFAULT_STEPS, sketch: Sketch | None = None,
             order_sketch: Sketch | None = None, splits: int = SPLITS, workers: int = WORKERS) -> PadPlan:
    """Plan a pad (A B C D = top-left, top-right, bottom-left, bottom-right): its four edges and its
    centre (:func:`plan_centre`).

    Args:
        corners: the four corner voices.
        steps: steps per edge (and per diagonal: half of them on each side of the centre).
        sketch, order_sketch: as :func:`plan_morph`.
        splits: step splits per edge.
        workers: threads rendering at once.

    Raises:
        ModelInputError: not four corners, or ``steps`` < 1.
    """
    a, b, c, d = _corners(corners)
    with _pool(workers) as pool:
        ears = _Ears(sketch, order_sketch, pool, workers)  # shared: the edges and spokes meet at the corners
        edges = [_plan(start, end, steps, ears, splits) for start, end in ((a, b), (c, d), (a, c), (b, d))]
        return PadPlan(*edges, spokes=_centre((a, b, c, d), steps, ears, splits))


def plan_centre(corners: Sequence[Voice], *, steps: int = DEFAULT_STEPS, sketch: Sketch | None = None,
                order_sketch: Sketch | None = None, splits: int = SPLITS, workers: int = WORKERS,
                centres: int = CENTRE_CANDIDATES) -> Spokes:
    """Plan the inside of a pad: a centre voice M and a path from each corner to it, so that each diagonal
    (A -> M -> D, B -> M -> C) is planned like an edge.

    M is a state of a diagonal's planned chain, A -> D or B -> C (each differing group of parameters switched
    in turn). The ``centres`` states of each chain least far from the other two corners (the larger of the two
    distances, plus :data:`CENTRE_ENDS_WEIGHT` times the larger of those to the chain's ends) are tried: for
    each, the chain's ends reach M by the chain's plan cut at M, and the other two corners by paths planned as
    :func:`plan_morph` plans a line; M is the one whose two diagonals have the fewest steps not heading toward
    their end on the sketches, then the smallest largest step (A -> D's states first, where they tie).
    Each spoke's steps are picked to head toward the opposite corner and away from its own (their steps may be
    :data:`SPOKE_STEP_SLACK` larger than the least largest step to do so), so that a diagonal played either
    way heads toward its end.

    Args:
        corners: the four corner voices (A B C D).
        steps: steps of a whole diagonal: each spoke has ``steps // 2`` (at least 1).
        sketch, order_sketch, workers: as :func:`plan_morph`.
        splits: step splits per diagonal.
        centres: how many states of each chain are tried as M (:data:`CENTRE_CANDIDATES`).

    Returns:
        The spokes A -> M, B -> M, C -> M, D -> M (first waypoint the corner, last M).

    Raises:
        ModelInputError: not four corners, ``steps`` < 1 or ``centres`` < 1.
    """
    a, b, c, d = _corners(corners)
    if centres < 1:
        raise ModelInputError(f"a pad's centre is chosen among at least 1 state, got {centres}")
    if steps < 1:
        raise ModelInputError(f"a morph plan needs at least 1 step, got {steps}")
    with _pool(workers) as pool:
        return _centre((a, b, c, d), steps, _Ears(sketch, order_sketch, pool, workers), splits, centres)


def _distinct_first(heard: Sequence[np.ndarray], count: int) -> list[int]:
    """The positions of the first ``count`` sounds of ``heard`` each more than :data:`CENTRE_APART` from every one
    taken before it."""
    taken: list[int] = []
    for n, sound in enumerate(heard):
        if len(taken) < count and all(distance(sound, heard[k]) > CENTRE_APART for k in taken):
            taken.append(n)
    return taken


def _corners(corners: Sequence[Voice]) -> tuple[Voice, Voice, Voice, Voice]:
    if len(corners) != 4:
        raise ModelInputError(f"a pad has 4 corners (A B C D), got {len(corners)}")
    a, b, c, d = corners
    return a, b, c, d


def _pool(workers: int) -> contextlib.AbstractContextManager[Executor | None]:
    if workers <= 1:
        return contextlib.nullcontext()
    return ThreadPoolExecutor(workers, thread_name_prefix="dexbridge-plan")


class _Ears:
    """The two caches a plan listens with: rough renders to order groups, full ones to lay the path."""

    def __init__(self, sketch: Sketch | None, order_sketch: Sketch | None, pool: Executor | None, workers: int) -> None:
        self.path = _Sketches(sketch or Sketch(), pool, workers)
        self.order = _Sketches(order_sketch or Sketch(ORDER_NOTE_SECONDS, ORDER_RENDER_SECONDS, ORDER_HOP), pool, workers)


def _plan(a: Voice, b: Voice, steps: int, ears: _Ears, splits: int, opposite: Voice | None = None) -> MorphPlan:
    if steps < 1:
        raise ModelInputError(f"a morph plan needs at least 1 step, got {steps}")
    groups = _differing(a, b)
    if not groups:
        return MorphPlan((a, b))
    return _lay(_chain(a, b, groups, ears), steps, ears, splits, opposite)


def _chain(a: Voice, b: Voice, groups: list[tuple[int, ...]], ears: _Ears) -> list[Voice]:
    """A, then A with each of the differing ``groups`` switched to B's values in turn (cheapest first), then B;
    rendered."""
    chain = [a]
    for group in _order(a, b, groups, ears.order):
        chain.append(_switch(chain[-1], b, group))
    chain[-1] = b
    ears.path.prefetch(chain)
    return chain


def _lay(chain: list[Voice], steps: int, ears: _Ears, splits: int, opposite: Voice | None = None) -> MorphPlan:
    """The plan along ``chain`` (first to last): its largest steps split, then ``steps`` steps picked
    (a spoke's toward its ``opposite`` corner, see :func:`_select`)."""
    a, b = chain[0], chain[-1]
    if len(chain) < 2 or a == b:
        return MorphPlan((a, b))
    sketches = ears.path
    chain = _split(list(chain), sketches, splits + max(0, steps - len(chain) + 1))
    far = None if opposite is None else sketches(opposite)
    picked = [chain[i] for i in _select([sketches(voice) for voice in chain], steps, far)]
    last = len(picked) - 1
    named = [voice if voice in (a, b) else _switch(voice, a if 2 * k < last else b, _NAME)
             for k, voice in enumerate(picked)]
    return MorphPlan(tuple(named))


def _centre(corners: tuple[Voice, Voice, Voice, Voice], steps: int, ears: _Ears, splits: int,
            centres: int = CENTRE_CANDIDATES) -> Spokes:
    """The spokes of :func:`plan_centre`."""
    half = max(1, steps // 2)
    sketches = ears.path
    sketches.prefetch(list(corners))

    def on_chain(start: int, end: int, first: int, second: int) -> list[Spokes]:
        """Spokes through the least lopsided states of the chain from corner ``start`` to ``end``: theirs are the
        chain's plan cut at M, the other two corners' (``first``, ``second``) planned as lines."""
        chain = (_chain(corners[start], corners[end], groups, ears)
                 if (groups := _differing(corners[start], corners[end])) else [corners[start], corners[end]])
        inner = range(1, len(chain) - 1) if len(chain) > 2 else range(len(chain))

        def lopsided(i: int) -> float:  # the larger distance to the other two corners, and half the larger to the ends
            far = max(distance(sketches(chain[i]), sketches(corners[j])) for j in (first, second))
            return far + CENTRE_ENDS_WEIGHT * max(distance(sketches(chain[i]), sketches(corners[j])) for j in (start, end))

        ranked = sorted(inner, key=lopsided)  # the least lopsided first, each a distinct sound from those before it
        found = []
        for k in (ranked[n] for n in _distinct_first([sketches(chain[i]) for i in ranked], centres)):
            middle = chain[k]
            spokes = {start: _lay(chain[:k + 1], half, ears, splits // 2, corners[end]),
                      end: _lay(chain[k:][::-1], half, ears, splits // 2, corners[start]),
                      first: _plan(corners[first], middle, half, ears, splits // 2, corners[second]),
                      second: _plan(corners[second], middle, half, ears, splits // 2, corners[first])}
            found.append((spokes[0], spokes[1], spokes[2], spokes[3]))
        return found

    def diagonals(planned: Spokes) -> tuple[int, float]:  # steps not heading toward their end, then the largest step
        misses, largest = 0, 0.0
        for one, other in ((planned[0], planned[3]), (planned[1], planned[2])):
            path = [*one.waypoints, *other.waypoints[-2::-1]]  # A -> M -> D, B -> M -> C
            sketches.prefetch(path)
            heard = [sketches(voice) for voice in path]
            to_end = [distance(state, heard[-1]) for state in heard]
            misses += sum(not later < earlier for earlier, later in itertools.pairwise(to_end))
            largest = max(largest, *(distance(x, y) for x, y in itertools.pairwise(heard)))
        return misses, largest

    chains = ((0, 3, 1, 2), (1, 2, 0, 3))
    if sketches.pool is None:
        found = [spokes for chain in chains for spokes in on_chain(*chain)]
    else:  # the second chain's candidates planned beside the first's: each plan's own work, between its renders, overlaps
        with ThreadPoolExecutor(1, thread_name_prefix="dexbridge-plan-chain") as beside:
            second = beside.submit(on_chain, *chains[1])
            found = [*on_chain(*chains[0]), *second.result()]
    return min(found, key=diagonals)
