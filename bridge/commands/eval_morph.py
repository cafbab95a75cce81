"""``dexbridge eval-morph``: how smooth each morph method sounds on held-out voices.

Pairs (and four-corner sets for the pad) are drawn from a corpus split or a .syx file; each method
plays each morph at ``--steps`` positions, every position is rendered at (60, 85) as the paper
renders, and the path is scored (:mod:`engine.eval.morph`). The methods are the daemon's own
(:mod:`engine.morph_path`, :mod:`engine.morph_plan`): what is measured here is what ``dexbridge
serve`` plays.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bridge.atomicfile import atomic_write_text
from bridge.commands.argtypes import at_least
from engine.backends import BACKENDS
from engine.morph_path import MORPH_METHODS
from models.corpus import SPLITS
from models.layout import DEFAULT_CHECKPOINT


def _methods(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in MORPH_METHODS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(MORPH_METHODS)}, comma-separated")
    return names


def _eval_morph(args: argparse.Namespace) -> int:
    from bridge.commands.eval import read_voices
    from engine.eval.morph_runs import distinct_sounds, format_table, measure  # numpy and the synth load here

    started = time.perf_counter()
    voices = distinct_sounds(read_voices(args.corpus, args.split))
    methods = [m for m in MORPH_METHODS if m in args.methods]
    engine = None
    if "latent" in methods or args.macros:
        from engine.runtime import Engine  # the model loads only for the latent line and the macros

        engine = Engine.load(args.checkpoint, backend=args.backend)
    progress = None if args.quiet else (lambda text: print(text, end="\r", flush=True))
    report = measure(voices, methods, args.pairs, args.quads, args.steps, args.seed, engine,
                     keep=args.plot_pairs if args.plot else 0, macros=args.macros, progress=progress)
    strips = report.pop("strips")
    source = args.corpus if args.corpus.suffix.lower() == ".syx" else f"{args.corpus} ({args.split} split)"
    print(format_table(report))
    plans = ", ".join(f"{kind} median {t['median']:.0f} ms, p90 {t['p90']:.0f}, max {t['max']:.0f}"
                      for kind, t in report["plan_ms"].items())
    print(f"{args.pairs} pairs and {args.quads} four-corner sets of {len(voices)} distinct voices of {source}, seed {args.seed}; "
          f"planning: {plans or 'not measured'}; {time.perf_counter() - started:.1f} s")
    report["source"] = str(source)
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    if args.plot is not None:
        from bridge.commands.morph_plot import draw_strips  # matplotlib only for pictures

        draw_strips(strips, report["summary"], args.plot)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``eval-morph``."""
    parser = subparsers.add_parser(
        "eval-morph", help="measure how smooth each morph method sounds (largest step, detour, toward B, ends)",
        description="Play morphs between held-out voices with every method (planned: the daemon's default; latent: "
        "the model's latent line; naive: parameters blended), render each position at (60, 85) and score the path "
        "by the log-spectral MAE between neighbouring positions: the largest step, the path length over the direct "
        "A-B distance, the share of steps that bring the sound closer to B, and whether the ends are A and B. "
        "The pad is measured along its four edges and two diagonals.")
    parser.add_argument("--corpus", type=Path, required=True, metavar="corpus.sqlite|FILE.syx",
                        help="voices: a corpus split, or every voice of a .syx file")
    parser.add_argument("--split", choices=SPLITS, default="test", help="corpus split (default: test)")
    parser.add_argument("--pairs", type=at_least(1), default=64, metavar="N", help="morphs A -> B (default 64)")
    parser.add_argument("--quads", type=at_least(0), default=16, metavar="N",
                        help="four-corner pads, each measured on 6 lines (default 16; 0 = none)")
    parser.add_argument("--macros", type=at_least(0), default=16, metavar="N",
                        help="macro moves from 0 to +-1 around voices of the pairs, on the first 4 axes in turn, as the daemon "
                        "plays them (the 'table' rows) and naively interpolated to the same end (default 16; loads the model)")
    parser.add_argument("--steps", type=at_least(2), default=9, metavar="N",
                        help="positions per morph, both ends included (default 9)")
    parser.add_argument("--methods", type=_methods, default=list(MORPH_METHODS),
                        metavar="M,M", help=f"methods to measure (default {','.join(MORPH_METHODS)})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the pairs and pads (default 0)")
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT,
                        help=f"the model of the latent line (default: the shipped {DEFAULT_CHECKPOINT.name})")
    parser.add_argument("--backend", default="auto", choices=("auto", *BACKENDS), help="its backend (default auto)")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="also write the report as JSON")
    parser.add_argument("--plot", type=Path, metavar="OUT.png", help="draw the steps' spectrograms, method by method")
    parser.add_argument("--plot-pairs", type=at_least(1), default=3, metavar="N", help="pairs in the picture (default 3)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress")
    parser.set_defaults(handler=_eval_morph)
