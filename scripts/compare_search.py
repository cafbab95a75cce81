"""Compare searches at equal render budgets: today's (1+1)-ES, CMA-ES and differential evolution.

Every method starts from the same voice: the engine's best start for the recording (the network's answer
and the library's nearest voices, screened and tuned as ``infer`` does, :data:`START_RENDERS` renders). The
rest of the budget goes to the method:

- ``es``: today's search from all starts (``Engine.infer`` with ``--max-renders``: the starts included);
- ``es-best``: today's (1+1)-ES from the best start alone;
- ``cma``: CMA-ES (``cma``, separable: one variance per parameter) on the best start's continuous parameters,
  scaled to 0-1, with its discrete structure frozen (algorithm, operator modes, curves and waves, coarse and
  fine frequency; the LFO left alone);
- ``de``: differential evolution (nevergrad's ``TwoPointsDE``) on the same parameters;
- ``cma+es``: CMA-ES for the first :data:`CMA_RENDERS` renders, then today's (1+1)-ES from its best voice.

Each answer is tuned to the recording's pitch and scored as the search scores (log-spectral MAE at middle C,
the sub-20 Hz penalty included). Recordings: a seeded sample of a corpus split rendered at middle C, and/or
folders of audio (``scripts/render_instruments.py``). Choose on the validation split.

    python scripts/compare_search.py --corpus corpus.sqlite --split validation --sample 8 \\
        --audio runs/instruments --budgets 250,1000 --json runs/compare_search.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from bridge.commands.eval_audio import corpus_recordings, corpus_sample, recordings
from engine.conditioning import REFERENCE_NOTE
from engine.runtime import Engine
from engine.search import VoiceSearch
from engine.takes import Take
from engine.tuning import tune
from models.params import LEARNABLE, Kind
from models.voice import Voice

START_RENDERS = 60
FROZEN = ("coarse", "fine", "lfo_", "pitch_mod_sens", "amp_mod_sens")
"""Parameters CMA-ES and DE leave as the start has them: the frequency structure and the LFO."""
METHODS = ("es", "es-best", "cma", "de", "cma+es")
CMA_RENDERS = 190


def continuous(voice: Voice) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The indices of the parameters the continuous methods move, the start's values scaled to 0-1, and the spans."""
    specs = [p for p in LEARNABLE if p.kind is Kind.NUMERICAL and not any(f in p.name for f in FROZEN)]
    lo = np.array([p.lo for p in specs], float)
    span = np.array([p.hi - p.lo for p in specs], float)
    start = (np.array([voice[p.index] for p in specs], float) - lo) / span
    return [p.index for p in specs], start, span


def voice_at(base: Voice, indices: list[int], spans: np.ndarray, x: np.ndarray) -> Voice:
    """``base`` with its continuous parameters at ``x`` (0-1, clipped and rounded to the parameter's steps)."""
    values = np.rint(np.clip(x, 0.0, 1.0) * spans).astype(int)
    return base.replace({index: int(v) for index, v in zip(indices, values, strict=True)})


def run_cma(objective: Callable[[Voice], float], start: Voice, budget: int, seed: int) -> Voice:
    """Separable CMA-ES from ``start`` for ``budget`` renders; the best voice it played."""
    import cma

    indices, x0, spans = continuous(start)
    best = (objective(start), start)
    options = {"bounds": [0.0, 1.0], "seed": seed + 1, "verbose": -9, "CMA_diagonal": True, "maxfevals": budget - 1}
    strategy = cma.CMAEvolutionStrategy(x0, 0.08, options)
    spent = 1
    while not strategy.stop() and spent < budget:
        xs = strategy.ask()[: budget - spent]
        voices = [voice_at(start, indices, spans, x) for x in xs]
        scores = [objective(v) for v in voices]
        spent += len(xs)
        if len(xs) == strategy.popsize:
            strategy.tell(xs, scores)
        best = min([best, *zip(scores, voices, strict=True)], key=lambda item: item[0])
    return best[1]


def run_de(objective: Callable[[Voice], float], start: Voice, budget: int, seed: int) -> Voice:
    """nevergrad's TwoPointsDE from ``start`` for ``budget`` renders; the best voice it played."""
    import nevergrad as ng

    indices, x0, spans = continuous(start)
    parametrization = ng.p.Array(init=x0).set_bounds(0.0, 1.0).set_mutation(sigma=0.08)
    parametrization.random_state = np.random.RandomState(seed)
    optimizer = ng.optimizers.TwoPointsDE(parametrization=parametrization, budget=budget)
    best = (objective(start), start)
    for _ in range(budget - 1):
        candidate = optimizer.ask()
        voice = voice_at(start, indices, spans, candidate.value)
        score = objective(voice)
        optimizer.tell(candidate, score)
        best = min(best, (score, voice), key=lambda item: item[0])
    return best[1]


def compare(engine: Engine, audio: np.ndarray, rate: int, budget: int, seed: int,
            methods: Sequence[str]) -> dict[str, dict[str, float]]:
    """Each method's tuned answer to one recording at one budget: score and seconds."""
    search: VoiceSearch = engine.search
    results: dict[str, dict[str, float]] = {}
    if "es" in methods:
        started = time.perf_counter()
        full = engine.infer(audio, rate, search=True, budget_ms=math.inf, max_renders=budget, seed=seed)
        results["es"] = {"score": full.diagnostics.spec_mae[1], "seconds": time.perf_counter() - started}
    first = engine.infer(audio, rate, search=True, budget_ms=math.inf, max_renders=START_RENDERS, seed=seed)
    f0 = first.diagnostics.f0_hz
    takes = [Take(first.recording, engine.sample_rate, REFERENCE_NOTE, 85)]
    targets = search.targets(takes)

    def objective(voice: Voice) -> float:
        return search.score(voice, targets)

    rest = budget - START_RENDERS
    for method in (m for m in methods if m != "es"):
        started = time.perf_counter()
        if method == "es-best":
            voice = search.run(takes, f0, [(first.voice, "best start")], budget_ms=math.inf, max_renders=rest,
                               seed=seed).best.voice
        elif method == "cma+es":
            voice = run_cma(objective, first.voice, min(rest, CMA_RENDERS), seed)
            if rest > CMA_RENDERS:
                voice = search.run(takes, f0, [(voice, "cma")], budget_ms=math.inf, max_renders=rest - CMA_RENDERS,
                                   seed=seed).best.voice
        else:
            voice = (run_cma if method == "cma" else run_de)(objective, first.voice, rest, seed)
        tuned = tune(voice, f0, engine.voice_pitch).voice if f0 is not None else voice
        results[method] = {"score": objective(tuned), "seconds": time.perf_counter() - started}
    return results


def main(argv: list[str] | None = None) -> int:
    """Print the comparison table; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="corpus database (dexbridge corpus build); with --split/--sample")
    parser.add_argument("--split", default="validation", choices=("train", "validation", "test"))
    parser.add_argument("--sample", type=int, default=8, help="corpus voices sampled (seeded)")
    parser.add_argument("--audio", type=Path, action="append", default=[], help="folder of recordings (repeatable)")
    parser.add_argument("--budgets", default="250,1000", help="render budgets, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default=",".join(METHODS), help="methods to run, comma-separated")
    parser.add_argument("--json", type=Path, help="also write every score as JSON")
    args = parser.parse_args(argv)
    sets = []
    if args.corpus is not None:
        sample = corpus_sample(args.corpus, args.split, args.sample, args.seed)
        sets.append((f"corpus {args.split}", corpus_recordings(sample, args.split)))
    if args.audio:
        sets.append(("audio", recordings(args.audio)))
    if not sets:
        parser.error("give --corpus and/or --audio")
    budgets = [int(b) for b in args.budgets.split(",")]
    methods = [m for m in METHODS if m in args.methods.split(",")]
    engine = Engine.load()
    report: dict[str, dict[str, dict[str, list[float]]]] = {}
    for title, items in sets:
        for budget in budgets:
            rows: dict[str, list[float]] = {m: [] for m in methods}
            seconds: dict[str, list[float]] = {m: [] for m in methods}
            for name, load, *_ in items:
                audio, rate = load()
                result = compare(engine, audio, rate, budget, args.seed, methods)
                for method, item in result.items():
                    rows[method].append(item["score"])
                    seconds[method].append(item["seconds"])
                print(f"{title} | {budget} renders | {name[:30]:<30} | "
                      + "  ".join(f"{m} {result[m]['score']:.3f}" for m in methods), file=sys.stderr, flush=True)
            report.setdefault(title, {})[str(budget)] = rows
            best = np.argmin(np.array([rows[m] for m in methods]), axis=0)
            print(f"\n{title}, {budget} renders, {len(items)} recordings")
            print(f"{'method':<10}{'mean score':>11}{'best on':>9}{'mean s':>8}")
            for number, method in enumerate(methods):
                print(f"{method:<10}{np.mean(rows[method]):>11.3f}{int(np.sum(best == number)):>9}"
                      f"{np.mean(seconds[method]):>8.1f}")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
