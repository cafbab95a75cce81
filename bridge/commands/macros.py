"""``dexbridge macros``: what each macro control does to the sound, named by measurement, and how smoothly it moves.

Around a sample of voices of a corpus split (or a .syx file) every macro is moved to -1 and +1 as the daemon
plays it (:mod:`engine.macro_table`), rendered and described; each axis is named by what it changes most
consistently (:mod:`engine.eval.macros`). A few voices are swept from -1 to 1 in 0.05 steps per axis: the
parameters each step changes, the spectral change per step, whether the structure ever changed. ``--write``
stores the names in the checkpoint, each axis turned so that +1 means more of what it is named after.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

from bridge.atomicfile import atomic_write_text
from bridge.commands.argtypes import at_least
from engine.backends import BACKENDS
from models.corpus import SPLITS
from models.layout import DEFAULT_CHECKPOINT


def _macros(args: argparse.Namespace) -> int:
    from bridge.commands.eval import read_voices
    from engine.eval.macros import DESCRIPTORS, name_axes, steadiness, sweep
    from engine.eval.morph_runs import distinct_sounds
    from engine.runtime import Engine
    from models.checkpoint import store_latent_axes
    from models.render import Renderer

    started = time.perf_counter()
    voices = distinct_sounds(read_voices(args.corpus, args.split))
    sample = random.Random(args.seed).sample(voices, min(args.voices, len(voices)))
    engine = Engine.load(args.checkpoint, backend=args.backend, search=False)
    axes = engine.checkpoint.latent_axes
    if axes is None:
        engine.macro_table(sample[0])  # raises, saying how to store axes
    assert axes is not None
    progress = None if args.quiet else (lambda text: print(text, end="\r", flush=True))
    renderer = Renderer()
    tables = [engine.macro_table(voice) for voice in sample]
    names = name_axes(tables, renderer, progress)
    report: dict[str, Any] = {"source": str(args.corpus), "voices": len(sample), "swept": min(args.sweeps, len(sample)),
                              "descriptors": list(DESCRIPTORS), "axes": []}
    every_step: list[float] = []
    print("| macro | name | turned | largest parameters changed by a 0.05 step | spectral change per step: median, "
          "p90, largest (largest / median) | structure kept |\n|---|---|---|---|---|---|")
    for axis, named in enumerate(names):
        sweeps = [sweep(table, axis, renderer) for table in tables[:report["swept"]]]
        steps = [step for found in sweeps for step in found.steps]
        every_step += steps
        row = {"name": named.name, "sign": named.sign, "scores": dict(zip(DESCRIPTORS, named.scores, strict=True)),
               "most_changed": max(max(found.changed) for found in sweeps), "steps": steadiness(steps),
               "structure_kept": all(found.structure_kept for found in sweeps)}
        report["axes"].append(row)
        spread = row["steps"]
        print(f"| {axis} | {named.name} | {'yes' if named.sign < 0 else 'no'} | {row['most_changed']} | "
              f"{spread['median']:.3f}, {spread['p90']:.3f}, {spread['max']:.3f} ({spread['max_over_median']:.2f}x) | "
              f"{'yes' if row['structure_kept'] else 'NO'} |")
    report["steps"] = steadiness(every_step)
    overall = report["steps"]
    print(f"all axes: median step {overall['median']:.3f}, largest {overall['max']:.3f} ({overall['max_over_median']:.2f}x "
          f"the median); names from {len(sample)} voices, sweeps around {report['swept']}; "
          f"{time.perf_counter() - started:.1f} s")
    if args.write:
        store_latent_axes(args.checkpoint, axes.named([n.name for n in names], [n.sign for n in names]))
        print(f"names stored in {args.checkpoint}")
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``macros``."""
    parser = subparsers.add_parser(
        "macros", help="name the macro controls by what they do to the sound, and measure how smoothly they move",
        description="Move every macro to -1 and +1 around a sample of voices (as the daemon does: the voice's "
        "structure kept), render both and describe them (brightness, loudness, attack, sustain, release, beating, "
        "noise); name each macro by what it changes most consistently. Sweep each macro from -1 to 1 in 0.05 steps "
        "around a few voices: parameters changed per step, spectral change per step, structure kept.")
    parser.add_argument("--corpus", type=Path, required=True, metavar="corpus.sqlite|FILE.syx",
                        help="voices: a corpus split, or every voice of a .syx file")
    parser.add_argument("--split", choices=SPLITS, default="test", help="corpus split (default: test)")
    parser.add_argument("--voices", type=at_least(2), default=64, metavar="N", help="voices to name the macros on (default 64)")
    parser.add_argument("--sweeps", type=at_least(1), default=4, metavar="N",
                        help="of those, voices each macro is swept around (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT,
                        help=f"the model (default: the shipped {DEFAULT_CHECKPOINT.name})")
    parser.add_argument("--backend", default="auto", choices=("auto", *BACKENDS), help="its backend (default auto)")
    parser.add_argument("--write", action="store_true",
                        help="store the names in the checkpoint, each axis turned so that +1 means more of its name")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="also write the report as JSON")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress")
    parser.set_defaults(handler=_macros)
