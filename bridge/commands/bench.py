"""``dexbridge bench``: p50/p99 latency of the serving path per stage and end to end, for every
backend available here, against the paper's architecture run eagerly (:mod:`engine.eval.bench`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge.atomicfile import atomic_write_text
from bridge.commands.argtypes import at_least
from engine.backends import AUTO_ORDER, BACKENDS
from engine.cores import all_cores
from models.layout import DEFAULT_CHECKPOINT, PAPER_CONFIG

if TYPE_CHECKING:  # torch, the engine and the model load in the handler: --help comes at once
    from engine.eval.bench import BenchReport
    from models.checkpoint import Checkpoint


def _checkpoint(args: argparse.Namespace) -> Checkpoint:
    from engine.eval.bench import random_checkpoint
    from models.checkpoint import load_checkpoint
    from models.config import load_config

    if args.config is not None:
        return random_checkpoint(load_config(args.config))
    return load_checkpoint(args.checkpoint)


def _table(report: BenchReport) -> str:
    from engine.eval.bench import BASELINE, END_TO_END, ENGINE_DECODE, STAGE_METRICS

    metrics = (*END_TO_END, *STAGE_METRICS)
    header = f"{'backend':<22}" + "".join(f"{metric.removesuffix('_ms'):>24}" for metric in metrics)
    rows = [header, " " * 22 + "".join(f"{'p50 / p99 ms':>24}" for _ in metrics)]
    for name, values in (*report.backends.items(), (BASELINE, report.baseline), (ENGINE_DECODE, report.engine_decode)):
        rows.append(f"{name:<22}" + "".join(f"{values[m]['p50']:>14.3f} / {values[m]['p99']:<7.3f}" if m in values
                                            else f"{'-':>24}" for m in metrics))
    rows += [f"skipped {name}: {reason}" for name, reason in report.skipped.items()]
    rows.append(f"speedup vs paper (audio -> voice p50): {report.speedup_vs_paper_p50:.2f}x ({report.fastest}); "
                f"{report.iterations} rounds, {report.threads} torch threads")
    rows.append(f"{ENGINE_DECODE}: Engine.decode's latent -> voice (compiled, on every backend), "
                f"{report.latent_speedup_vs_paper_p50:.2f}x the paper's eager (p50)")
    return "\n".join(rows)


def _print_and_write(table: str, figures: dict[str, Any], json_path: Path | None) -> None:
    """Print a bench's table, and write its figures to ``json_path`` where one is given."""
    print(table)
    if json_path is not None:
        atomic_write_text(json_path, json.dumps(figures, indent=2) + "\n")


def _bench(args: argparse.Namespace) -> int:
    from engine.eval.bench import paper_baseline, run_bench

    if args.pitch or args.score:
        from engine.eval.pitch_bench import run_pitch_bench
        from engine.eval.score_bench import run_score_bench

        run = run_pitch_bench if args.pitch else run_score_bench
        mode_report = run(iterations=args.iterations, warmup=args.warmup)
        _print_and_write(mode_report.table(), mode_report.to_json(), args.json)
        return 0
    checkpoint = _checkpoint(args)
    if args.bridge:
        from bridge.harness.bridge_bench import bridge_bench

        bridge_report = bridge_bench(checkpoint, args.backend[0] if len(args.backend) == 1 else "auto", args.iterations)
        _print_and_write(bridge_report.table(), bridge_report.to_json(), args.json)
        return 0
    report = run_bench(checkpoint, args.backend, iterations=args.iterations, warmup=args.warmup, threads=args.threads,
                       baseline=paper_baseline(checkpoint, args.baseline_config))
    _print_and_write(_table(report), report.to_json(), args.json)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``bench``."""
    parser = subparsers.add_parser(
        "bench", help="time the serving path per stage and end to end on every backend",
        description="Time audio -> voice (front end + encoder + flows + decode to a Voice, batch 1, without "
        "input conditioning) and latent -> voice (regression flow + decode) with p50/p99 per stage, for every "
        "backend that runs here and for Engine.decode's own latent path (engine_decode: compiled, whatever the "
        "backend), against the paper's architecture (configs/paper.toml, random weights) run "
        "eagerly in the same process, in interleaved rounds so machine load hits all alike. --pitch times a pitch "
        "measurement of the search instead, --score one score of the search, --bridge the daemon.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT, metavar="PATH",
                        help=f"serving checkpoint to time (default {DEFAULT_CHECKPOINT})")
    source.add_argument("--config", type=Path, default=None, metavar="FILE.toml",
                        help="time a random-weight model of this config instead (speed does not depend on weights)")
    parser.add_argument("--backend", nargs="+", choices=list(BACKENDS), default=list(AUTO_ORDER), metavar="NAME",
                        help=f"backends to time (default: all that run here; names: {', '.join(BACKENDS)})")
    parser.add_argument("--iterations", type=at_least(1, "iterations"), default=100, metavar="N",
                        help="timed rounds (default 100)")
    parser.add_argument("--warmup", type=at_least(0, "warm-up rounds"), default=10, metavar="N",
                        help="untimed rounds first (default 10)")
    parser.add_argument("--threads", type=at_least(1, "threads"), default=all_cores(), metavar="N",
                        help="torch intra-op threads (default: the cores this process may use)")
    parser.add_argument("--baseline-config", type=Path, default=PAPER_CONFIG, metavar="FILE.toml",
                        help="the baseline architecture, run eagerly with random weights (default configs/paper.toml)")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="also write the figures as JSON")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--pitch", action="store_true",
                      help="time a pitch measurement instead, what the search pays per voice it tunes: the 1 s render, "
                      "the partials tracker and the neural check, with CREPE's network in ONNX Runtime against eager "
                      "torch in the same rounds (p50/p99, one thread; needs no checkpoint)")
    mode.add_argument("--score", action="store_true",
                      help="time one score of the search instead (a library voice rendered and compared with a "
                      "recording), with the engine's malloc settings against glibc's defaults, each in a worker "
                      "process of its own, in interleaved rounds, and the score's float32 spectrograms of a render "
                      "against the paper metric's (p50/p99; needs no checkpoint)")
    mode.add_argument("--bridge", action="store_true",
                      help="time the daemon instead (needs a JACK server): OSC control -> first MIDI byte, OSC "
                      "infer/blob -> the first and the final voice's MIDI (p50/p99, against Engine.decode alone), "
                      "and 1 000 control messages/s sustained")
    parser.set_defaults(handler=_bench)
