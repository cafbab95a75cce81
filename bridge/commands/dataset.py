"""``dexbridge dataset``: render the corpus to the model's input spectrograms, on disk.

The rendering, the file layout and resuming are :mod:`models.dataset`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bridge.commands.argtypes import at_least
from models.layout import NOTE_SET_NAMES


def _render(args: argparse.Namespace) -> int:
    from models.dataset import NOTE_SETS, render_dataset  # torch loads once the arguments are good

    info = render_dataset(
        args.corpus, args.out, notes=NOTE_SETS[args.notes], workers=args.workers, chunk=args.chunk,
        overwrite=args.overwrite, progress=True,
    )
    print(info.timing_line())
    if info.stats is not None:
        print(f"train-split range: {info.stats.min_db:.2f} .. {info.stats.max_db:.2f} dB (normalisation stats)")
    print(f"dataset: {args.out} ({info.rows} voices)")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dataset render``."""
    dataset = subparsers.add_parser(
        "dataset", help="render the corpus to training spectrograms",
        description="Training data: every corpus voice rendered by dexed-py and turned into the model's "
        "mel spectrograms, stored on disk with random access.",
    )
    actions = dataset.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    render = actions.add_parser(
        "render", help="render every corpus voice to dB mel spectrograms",
        description="Render every voice of the corpus (all splits) at 22 050 Hz, note held 3.0 s of 4.0 s, "
        "through the model's front end (STFT 1024 / hop 256, 257 mel bands, dB floored at -120), into "
        "DIR/spectrograms.npy (float16, memory-mapped). A cut run resumes where it stopped when run "
        "again with the same arguments. Normalisation stats come from the train split only.",
    )
    render.add_argument("corpus", type=Path, metavar="CORPUS", help="corpus file (from 'dexbridge corpus build')")
    render.add_argument("--out", "-o", type=Path, required=True, metavar="DIR", help="dataset directory")
    render.add_argument("--notes", choices=sorted(NOTE_SET_NAMES), default="single",
                        help="single: (60, 85); multi: (40,85) (50,85) (60,42) (60,85) (60,127) (70,85) "
                        "(default single)")
    render.add_argument("--workers", type=at_least(1), default=None, metavar="N",
                        help="render processes (default: one per CPU)")
    render.add_argument("--chunk", type=at_least(1), default=32, metavar="ROWS",
                        help="voices per task; a cut loses at most one chunk per worker (default 32)")
    render.add_argument("--overwrite", action="store_true",
                        help="delete a dataset already in DIR (rendered with other settings) and start again")
    render.set_defaults(handler=_render)
