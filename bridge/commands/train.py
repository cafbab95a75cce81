"""``dexbridge train`` and ``dexbridge export-checkpoint``: the model's training run and its
shipping checkpoint.

Training, checkpoints and resuming are :mod:`models.train` and :mod:`models.checkpoint`;
``dexbridge train`` also runs under ``torchrun`` for DistributedDataParallel.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bridge.commands.argtypes import at_least
from models.layout import BEST, DEFAULT_AXES, DEVICES, LATEST, LOG


def _train(args: argparse.Namespace) -> int:
    from models.config import load_config  # torch loads once the arguments are good
    from models.train import run

    state = run(
        load_config(args.config), dataset_dir=args.dataset, out_dir=args.out, device=args.device,
        resume=args.resume, max_steps=args.max_steps, epochs=args.epochs, time_limit_s=args.time_limit,
        checkpoint_every=args.checkpoint_every, loader_workers=args.workers,
    )
    if state.placement.rank == 0:
        epochs = state.config.train.epochs
        print(f"stopped at epoch {state.epoch}/{epochs} (+{state.epoch_step} batches), step {state.step}, "
              f"{state.seconds:.0f} s of training; best validation loss {state.best_val:.4f}")
        print(f"run {state.config.config_hash()}: {args.out / LATEST}, {args.out / BEST}, {args.out / LOG}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from models.checkpoint import add_latent_axes, export_serving, load_checkpoint

    out = export_serving(args.checkpoint, args.out, half=args.half)
    checkpoint = load_checkpoint(out)
    if args.axes_corpus is not None:
        checkpoint = add_latent_axes(out, args.axes_corpus, args.axes, half=args.half)
        print(f"latent axes: {checkpoint.latent_axes.count} principal axes of the train split of {args.axes_corpus}")
    size_mb = out.stat().st_size / 1e6
    print(f"wrote {out} ({size_mb:.1f} MB, {'float16' if args.half else 'float32'} weights, run "
          f"{checkpoint.config_hash}, {checkpoint.representation}, notes {list(checkpoint.notes)})")
    return 0


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value}: need a number of seconds > 0")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``train`` and ``export-checkpoint``."""
    train = subparsers.add_parser(
        "train", help="train the sound-to-voice model on a rendered dataset",
        description="Train the encoder, flows and decoder (Adam; spectrogram MSE + beta KL + parameter loss). "
        f"Writes RUN_DIR/{LATEST} every epoch and at each stop, RUN_DIR/{BEST} on a better validation loss "
        f"and RUN_DIR/{LOG}. A cut run continues with --resume. Under torchrun (e.g. torchrun "
        "--nproc_per_node 2 --standalone -m bridge.commands.cli train ...) it trains with DistributedDataParallel.",
    )
    train.add_argument("--config", type=Path, required=True, metavar="FILE.toml", help="run configuration")
    train.add_argument("--dataset", type=Path, required=True, metavar="DIR",
                       help="dataset directory (from 'dexbridge dataset render')")
    train.add_argument("--out", "-o", type=Path, required=True, metavar="RUN_DIR", help="run directory")
    train.add_argument("--device", choices=DEVICES, default="auto", help="auto: CUDA when available (default)")
    train.add_argument("--resume", action="store_true", help=f"continue the run in RUN_DIR/{LATEST}")
    train.add_argument("--max-steps", type=at_least(1), default=None, metavar="N",
                       help="stop and checkpoint once the run has made N optimizer steps in all")
    train.add_argument("--epochs", type=at_least(1), default=None, metavar="N", help="override train.epochs")
    train.add_argument("--time-limit", type=_seconds, default=None, metavar="SECONDS",
                       help="stop and checkpoint after this many seconds")
    train.add_argument("--checkpoint-every", type=at_least(1), default=None, metavar="N",
                       help=f"also write RUN_DIR/{LATEST} every N steps")
    train.add_argument("--workers", type=at_least(0, "loader workers (0 loads in the training process)"), default=None, metavar="N",
                       help="data loader processes (default: 0 on CPU, 4 on CUDA)")
    train.set_defaults(handler=_train)

    export = subparsers.add_parser(
        "export-checkpoint", help="write the slim serving checkpoint of a training run",
        description="Copy the serving part (encoder + latent flow + regression flow), config and front-end "
        "stats of a training checkpoint into a slim file for shipping: no decoder, no optimizer.",
    )
    export.add_argument("checkpoint", type=Path, metavar="CHECKPOINT", help=f"e.g. RUN_DIR/{BEST}")
    export.add_argument("--out", "-o", type=Path, required=True, metavar="FILE.pt",
                        help="e.g. models/checkpoints/default.pt")
    export.add_argument("--half", action="store_true", help="store float16 weights (half the size)")
    export.add_argument("--axes-corpus", type=Path, default=None, metavar="CORPUS.sqlite",
                        help="store the principal axes of the latents of this corpus's train split (macro controls)")
    export.add_argument("--axes", type=at_least(1, "latent axes"), default=DEFAULT_AXES, metavar="K",
                        help=f"number of principal axes with --axes-corpus (default {DEFAULT_AXES})")
    export.set_defaults(handler=_export)
