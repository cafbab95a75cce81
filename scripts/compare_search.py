"""Compare searches at equal render budgets: the (1+λ)-ES, CMA-ES and differential evolution.

Every method starts from the same voice: the engine's best start for the recording (the network's answer
and the library's nearest voices, screened and tuned as ``infer`` does, :data:`START_RENDERS` renders). The
rest of the budget goes to the method:

- ``default``: what ``infer --max-renders BUDGET`` does (its starts included);
- ``es-best``: the search's (1+λ)-ES (:data:`engine.search.ES_BATCH` mutations a batch) from the best start;
- ``cma``: the search's CMA-ES (:mod:`engine.search_cma`: separable, on the best start's continuous
  parameters, its frequency structure, algorithm, curves, waves and LFO frozen), the ES after it stalls;
- ``de``: differential evolution (nevergrad's ``TwoPointsDE``, ``pip install nevergrad``) on the same
  parameters as CMA-ES.

Each answer is tuned to the recording's pitch and scored as the search scores (log-spectral MAE at middle C,
the sub-20 Hz penalty included). Recordings: a seeded sample of a corpus split rendered at middle C (the
library's training split only, never the voices scored), and/or folders of audio
(``scripts/render_instruments.py``). Choose on the validation split.

    python scripts/compare_search.py --corpus corpus.sqlite --split validation --sample 12 \\
        --budgets 250,1000,4000 --json runs/compare_search_validation.json
    python scripts/compare_search.py --audio runs/instruments12 --budgets 250,1000,4000 \\
        --json runs/compare_search_instruments.json
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
from bridge.commands.search_options import search_library
from engine.conditioning import REFERENCE_NOTE
from engine.cores import all_cores
from engine.runtime import Engine
from engine.search import VoiceSearch
from engine.search_cma import SIGMA, ContinuousCma
from engine.takes import Take
from engine.tuning import tune
from models.voice import Voice

START_RENDERS = 60
METHODS = ("default", "es-best", "cma", "de")


def run_de(objective: Callable[[Voice], float], start: Voice, budget: int, seed: int) -> Voice:
    """nevergrad's TwoPointsDE on CMA-ES's parameters from ``start`` for ``budget`` renders; the best voice it played."""
    import nevergrad as ng

    cma = ContinuousCma(start, seed)  # its parameter space and its mapping back to a voice
    x0 = (np.array([start[i] for i in cma.space.indices], float) - cma.space.lo) / cma.space.span
    parametrization = ng.p.Array(init=x0).set_bounds(0.0, 1.0).set_mutation(sigma=SIGMA)
    parametrization.random_state = np.random.RandomState(seed)
    optimizer = ng.optimizers.TwoPointsDE(parametrization=parametrization, budget=budget)
    best = (objective(start), start)
    for _ in range(budget - 1):
        candidate = optimizer.ask()
        voice = cma.voice_at(candidate.value)
        score = objective(voice)
        optimizer.tell(candidate, score)
        best = min(best, (score, voice), key=lambda item: item[0])
    return best[1]


def compare(engine: Engine, audio: np.ndarray, rate: int, budget: int, seed: int,
            methods: Sequence[str]) -> dict[str, dict[str, float]]:
    """Each method's tuned answer to one recording at one budget: score and seconds."""
    search: VoiceSearch = engine.search
    results: dict[str, dict[str, float]] = {}
    if "default" in methods:
        started = time.perf_counter()
        full = engine.infer(audio, rate, search=True, budget_ms=math.inf, max_renders=budget, seed=seed)
        results["default"] = {"score": full.diagnostics.distance[1], "seconds": time.perf_counter() - started}
    first = engine.infer(audio, rate, search=True, budget_ms=math.inf, max_renders=START_RENDERS, seed=seed)
    f0 = first.diagnostics.f0_hz
    takes = [Take(first.recording, engine.sample_rate, REFERENCE_NOTE, 85)]
    targets = search.targets(takes)

    def objective(voice: Voice) -> float:
        return search.score(voice, targets)

    rest = budget - START_RENDERS
    for method in (m for m in methods if m != "default"):
        started = time.perf_counter()
        if method == "de":
            voice = run_de(objective, first.voice, rest, seed)
        else:  # the search's own improvers from the best start: CMA-ES whatever the budget, or the ES alone
            voice = search.run(takes, f0, [(first.voice, "best start")], budget_ms=math.inf, max_renders=rest,
                               seed=seed, cma_up_to=rest if method == "cma" else 0).best.voice
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
    parser.add_argument("--workers", type=int, default=all_cores(), help="render processes (default: every core)")
    parser.add_argument("--json", type=Path, help="also write every score as JSON")
    args = parser.parse_args(argv)
    sets = []
    if args.corpus is not None:
        sample = corpus_sample(args.corpus, args.split, args.sample, args.seed)
        sets.append((f"corpus {args.split}", corpus_recordings(sample, args.split)))
    if args.audio:
        sets.append(("audio", recordings(args.audio)))
    if len(sets) != 1:
        parser.error("give --corpus or --audio (one of them: corpus voices are searched in the training split only)")
    budgets = [int(b) for b in args.budgets.split(",")]
    methods = [m for m in METHODS if m in args.methods.split(",")]
    library, _ = search_library(argparse.Namespace(library=None, no_library=False),
                                [voice for _, voice in sample] if args.corpus is not None else None)
    engine = Engine.load(library=library, search_workers=args.workers)
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
