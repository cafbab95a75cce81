"""``dexbridge eval-takes``: one voice from six notes against one voice from middle C, on held-out voices.

Reading the corpus and printing happen here; the scoring is :mod:`engine.eval.takes`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from tqdm import tqdm

from bridge.atomicfile import atomic_write_text
from bridge.commands.argtypes import at_least
from bridge.commands.search_options import add_budget_options, add_library_options, budget_text, search_library, time_cap_ms
from models.corpus import SPLITS, open_corpus
from models.errors import CorpusError, ModelInputError
from models.render import MULTI_NOTES


def _eval_takes(args: argparse.Namespace) -> int:
    from engine.eval.takes import score_voice, summarise, to_json
    from engine.runtime import Engine

    started = time.perf_counter()
    with open_corpus(args.corpus) as corpus:
        voices = corpus.voices(args.split)
    if not voices:
        raise CorpusError(f"no voice in the {args.split} split of {args.corpus}")
    if args.sample is not None and args.sample < len(voices):
        voices = random.Random(args.seed).sample(voices, args.sample)
    library, library_text = search_library(args, scored=voices)
    engine = Engine.load(args.checkpoint, threads=args.threads, library=library, search_budget_ms=time_cap_ms(args),
                         search_max_renders=args.max_renders, search_workers=args.workers,
                         search_score=args.score)
    scores, refused = [], 0
    for voice in tqdm(voices, desc="eval-takes", unit="voice", disable=args.quiet or not sys.stderr.isatty()):
        try:
            scores.append(score_voice(engine, voice))
        except ModelInputError:
            refused += 1  # a render silent at one of the notes: refused as a recording would be
    summary = summarise(scores)
    notes = " ".join(f"({n},{v})" for n, v in MULTI_NOTES)
    print(f"{'answer':<12}" + "".join(f"{n:>10}" for n in notes.split()) + f"{'mean':>9}{'key/vel':>9}{'curves':>8}")
    for name, row in summary.items():
        per_note = "".join(f"{value:>10.3f}" for value in row["per_note"])  # type: ignore[union-attr]
        print(f"{name:<12}{per_note}{row['spec_mae']:>9.3f}{row['key_vel_mae']:>9.3f}{row['curve_acc']:>8.2f}")
    print(f"{len(scores)} {args.split} voices of {args.corpus} ({refused} refused: silent), {library_text}, "
          f"{budget_text(args)} per answer, {time.perf_counter() - started:.1f} s")
    if "one take" in summary and "six takes" in summary:
        one, six = summary["one take"]["spec_mae"], summary["six takes"]["spec_mae"]
        change = "no change (both exact)" if not one else f"{1 - six / one:+.1%} lower"  # type: ignore[operator]
        print(f"six takes against one: spec_mae {change}; worse on {summary['six takes']['worse_than_one_take']} of "
              f"{len(scores)} voices")
    if args.json is not None:
        atomic_write_text(args.json, json.dumps({"notes": MULTI_NOTES, "library": library_text, "search": budget_text(args),
                                                 "summary": summary, "refused": refused,
                                                 "voices": [to_json(s) for s in scores]}, indent=2) + "\n")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``eval-takes``."""
    parser = subparsers.add_parser(
        "eval-takes", help="one voice from six notes vs from middle C alone, on held-out voices",
        description="Render held-out voices at the paper's six notes (40,85) (50,85) (60,42) (60,85) (60,127) "
        "(70,85); infer a voice from the (60,85) take alone and from all six, and retrieve the library voice "
        "closest on the six notes; score each by log-spectral MAE at every note (0 = identical) and by the key "
        "and velocity parameters (rate scaling, key velocity sensitivity, break point, depths: MAE scaled to "
        "[0, 1]; curves: share right).",
    )
    parser.add_argument("--corpus", type=Path, required=True, metavar="CORPUS.sqlite", help="'dexbridge corpus build'")
    parser.add_argument("--split", choices=SPLITS, default="test", help="the split (default test)")
    parser.add_argument("--sample", type=at_least(1), metavar="N", help="a seeded random sample of N voices")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    add_budget_options(parser, "answer")
    add_library_options(parser)
    parser.add_argument("--checkpoint", type=Path, default=None, help="serving checkpoint (default: the shipped one)")
    parser.add_argument("--threads", type=int, default=None, metavar="N", help="inference threads (default: all)")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="also write every score as JSON")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_eval_takes)
