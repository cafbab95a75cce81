"""``dexbridge eval``: score a checkpoint on held-out voices against the mean and nearest baselines.

Reading voices (a SQLite corpus split or a .syx file) and the training reference (a rendered
dataset, or renders made here) happens here; the evaluation itself is :mod:`models.evaluate`.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bridge.atomicfile import atomic_write, atomic_write_text
from bridge.commands.argtypes import at_least
from bridge.commands.inputs import check_output
from bridge.commands.search_options import INFER_RENDERS, add_library_options, milliseconds, search_library, time_cap_ms
from bridge.midi.syxfile import SYX_SUFFIXES, read_syx_voices
from engine.backends import BACKENDS
from models.corpus import SPLITS, open_corpus
from models.errors import EvaluationError
from models.layout import DEFAULT_CHECKPOINT
from models.voice import Voice

if TYPE_CHECKING:  # numpy, torch and the engine load in the handler: --help comes at once
    import numpy as np

    from engine.library import VoiceLibrary
    from models.checkpoint import Checkpoint
    from models.dataset import SpectrogramDataset
    from models.evaluate import EvalReport, Pipeline, SpectrogramIndex

logger = logging.getLogger(__name__)

METRICS = ("num_mae", "cat_acc", "spec_mae", "spec_sc", "mfcc_mae", "log_mel_db", "mfcc")
_INDEX_CHUNK = 1024  # training rows pooled at a time from a dataset's memory map


def _is_syx(path: Path) -> bool:
    return path.suffix.lower() in SYX_SUFFIXES


def read_voices(path: Path, split: str) -> list[Voice]:
    """The voices of a corpus split, or every voice of a .syx file (all of them held out).

    Raises:
        EvaluationError: the file is missing or has no voice (in that split).
        CorpusError: not a corpus.
    """
    if not path.is_file():
        raise EvaluationError(f"{path} not found: give a corpus (.sqlite, 'dexbridge corpus build') or a .syx file")
    if _is_syx(path):
        voices = [item.voice for item in read_syx_voices(path).voices]
    else:
        with open_corpus(path) as corpus:
            voices = corpus.voices(split)
    if not voices:
        where = path if _is_syx(path) else f"the {split} split of {path}"
        raise EvaluationError(f"no voice in {where}")
    return voices


def _check_dataset(dataset: SpectrogramDataset, checkpoint: Checkpoint, directory: Path) -> None:
    if dataset.notes != checkpoint.notes or dataset.frontend != checkpoint.config.frontend:
        raise EvaluationError(
            f"dataset {directory} was rendered with notes {list(dataset.notes)} and front end {dataset.frontend}; "
            f"the checkpoint needs notes {list(checkpoint.notes)} and {checkpoint.config.frontend}: "
            "render a matching dataset, or give --train-corpus to render the training voices here"
        )


def _pooled_train_features(dataset: SpectrogramDataset) -> np.ndarray:
    """The pooled train spectrograms, cached beside the dataset (float16) after the first run."""
    import numpy as np

    from models.evaluate import POOL, pooled_features

    cache = dataset.out_dir / f"eval_pooled{POOL}_train.npy"
    if cache.is_file():
        features = np.load(cache, mmap_mode="r")
        if len(features) == len(dataset):
            return np.asarray(features, dtype=np.float32)
    features = np.concatenate([pooled_features(dataset.spectrograms_db(start, start + _INDEX_CHUNK)).astype(np.float16)
                               for start in range(0, len(dataset), _INDEX_CHUNK)])
    try:
        atomic_write(cache, lambda file: np.save(file, features))
    except OSError as error:  # a read-only dataset: search without the cache
        logger.warning("cannot cache the pooled spectrograms in %s (%s): the next run pools them again", cache, error)
    return features.astype(np.float32)


def training_reference(args: argparse.Namespace, checkpoint: Checkpoint) -> tuple[list[Voice], SpectrogramIndex]:
    """Training voices and their spectrogram index, from ``--train-dataset`` or ``--train-corpus``.

    Raises:
        EvaluationError: no training source, or a dataset rendered with other settings.
    """
    from models.dataset import SpectrogramDataset
    from models.evaluate import SpectrogramIndex, pooled_features, render_spectrograms

    if args.train_dataset is not None:
        dataset = SpectrogramDataset(args.train_dataset, "train", checkpoint.representation)
        _check_dataset(dataset, checkpoint, args.train_dataset)
        return dataset.voices, SpectrogramIndex(_pooled_train_features(dataset))
    source = args.train_corpus or (None if _is_syx(args.corpus) else args.corpus)
    if source is None:
        raise EvaluationError(f"{args.corpus} is a .syx file: give --train-corpus (the corpus the model was trained on) "
                              "or --train-dataset for the baselines")
    voices = read_voices(source, "train")
    db = render_spectrograms(voices, checkpoint.notes, checkpoint.config.frontend, workers=args.workers,
                             progress=not args.quiet)
    return voices, SpectrogramIndex(pooled_features(db))


def budget_pipelines(args: argparse.Namespace, checkpoint: Checkpoint,
                     library: VoiceLibrary | None) -> dict[str, Pipeline]:
    """What ``dexbridge infer`` does (:class:`engine.runtime.Engine`: conditioning, library, tuning, the
    search) at each ``--renders`` budget, by name (``"pipeline 250 renders"``); none for multi-note
    models, whose pipeline takes one recording per note."""

    from engine.backends import select_backend
    from engine.runtime import Engine
    from models.errors import SilentInputError

    if len(checkpoint.notes) != 1:
        return {}
    engine = Engine(checkpoint, select_backend(args.backend, checkpoint), library=library, search_workers=args.workers)
    rate = checkpoint.config.frontend.sample_rate

    def at(renders: int) -> Pipeline:
        def infer(audio: np.ndarray) -> Voice | None:
            try:
                return engine.infer(audio[0], rate, search=renders > 0, budget_ms=time_cap_ms(args),
                                    max_renders=max(renders, 1), seed=args.seed).voice
            except SilentInputError:
                return None

        return infer

    return {f"pipeline {renders} renders" if renders else "first voice": at(renders) for renders in args.renders}


def format_report(report: EvalReport) -> str:
    """A fixed-width table: one row per answer, one column per metric; then spec_mae per label."""
    lines = [f"{'':20}" + "".join(f"{m:>11}" for m in METRICS)]
    lines += [f"{name:20}" + "".join(f"{getattr(s, m):>11.4f}" for m in METRICS) for name, s in report.answers().items()]
    if report.by_label:
        names = list(report.answers())
        lines += ["", "spec_mae by label", f"{'':20}" + "".join(f"{label:>12}" for label in report.by_label)]
        lines += [f"{name:20}" + "".join(f"{report.by_label[label][name].spec_mae:>12.4f}" for label in report.by_label)
                  for name in names]
    return "\n".join(lines)


def _renders(text: str) -> list[int]:
    try:
        budgets = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give render counts separated by commas, e.g. 0,250,1000") from None
    if not all(0 <= budget <= 100_000 for budget in budgets):
        raise argparse.ArgumentTypeError(f"{text!r}: each budget must be 0 renders or more (0 = the first voice)")
    return budgets


def _eval(args: argparse.Namespace) -> int:
    from models.analysis import analyse_voices
    from models.checkpoint import load_checkpoint
    from models.evaluate import evaluate

    started = time.perf_counter()
    if args.json is not None:
        check_output(args.json, "--json")
    checkpoint = load_checkpoint(args.checkpoint)
    test_voices = read_voices(args.corpus, args.split)
    if args.sample is not None and args.sample < len(test_voices):
        picked = sorted(random.Random(args.seed).sample(range(len(test_voices)), args.sample))
        test_voices = [test_voices[i] for i in picked]
    train_voices, index = training_reference(args, checkpoint)
    labels = None
    if args.labels:
        labels = [item.label for item in analyse_voices(test_voices, label=True, workers=args.workers,
                                                        progress=not args.quiet)]
    library, library_text = search_library(args, scored=test_voices)
    report = evaluate(checkpoint, test_voices, train_voices, index, pipelines=budget_pipelines(args, checkpoint, library),
                      labels=labels, workers=args.workers, progress=not args.quiet)
    print(format_report(report))
    source = args.corpus if _is_syx(args.corpus) else f"{args.corpus} ({args.split} split)"
    sampled = f" (random sample, seed {args.seed})" if args.sample is not None else ""
    print(f"{report.n_voices} voices{sampled} of {source}, {len(train_voices)} training voices, {library_text}, "
          f"{time.perf_counter() - started:.1f} s")
    for name, count in report.refused.items():
        if count:
            print(f"{name} refused {count} voices as silent: scored with the network's answer")
    if args.json is not None:
        atomic_write_text(args.json, json.dumps({**report.to_dict(), "library": library_text}, indent=2) + "\n")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``eval``."""
    parser = subparsers.add_parser(
        "eval", help="score a checkpoint on held-out voices (paper metrics, mean and nearest baselines)",
        description="For every test voice: render it (dexed-py, the model's notes), infer a voice from the audio, "
        "re-render it and score it with the paper's metrics: num_mae (122 numerical parameters scaled to [0, 1]), "
        "cat_acc (22 categorical), spec_mae, spec_sc and mfcc_mae. Baselines: the training split's mean/mode voice, "
        "and the training voice with the closest spectrogram (whole training split).",
    )
    parser.add_argument("checkpoint", nargs="?", type=Path, default=DEFAULT_CHECKPOINT,
                        help=f"checkpoint to evaluate (default: the shipped {DEFAULT_CHECKPOINT.name})")
    parser.add_argument("--corpus", type=Path, required=True, metavar="corpus.sqlite|FILE.syx",
                        help="held-out voices: a corpus split, or every voice of a .syx file")
    parser.add_argument("--split", choices=SPLITS, default="test", help="corpus split to evaluate (default: test)")
    parser.add_argument("--train-corpus", type=Path, metavar="corpus.sqlite|FILE.syx",
                        help="training voices for the baselines (default: --corpus's train split); rendered here")
    parser.add_argument("--train-dataset", type=Path, metavar="DIR",
                        help="a rendered dataset ('dexbridge dataset render') whose train split is the baselines' "
                        "reference: no re-rendering")
    parser.add_argument("--sample", type=at_least(1), metavar="N",
                        help="evaluate a random sample of N voices (seeded by --seed; default: every voice)")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample and of the searches (default: 0)")
    parser.add_argument("--workers", type=at_least(1), default=2, metavar="N",
                        help="render processes, for the baselines and the search (default: 2)")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="also write the scores as JSON")
    parser.add_argument("--backend", default="auto", choices=("auto", *BACKENDS),
                        help="inference backend of the pipeline (default: auto)")
    parser.add_argument("--renders", type=_renders, default=[0, INFER_RENDERS], metavar="N,N,...",
                        help=f"score the pipeline at each search budget in renders (default 0,{INFER_RENDERS}; 0 = the "
                        "first voice, the network's or the nearest library voice, tuned)")
    parser.add_argument("--search-ms", type=milliseconds, default=None, metavar="MS",
                        help="also stop each search after MS milliseconds (none by default: the scores then depend on "
                        "the machine's speed and load)")
    add_library_options(parser)
    parser.add_argument("--labels", action="store_true",
                        help="also report spec_mae per label (harmonic / percussive / sfx, by HPSS of each test voice)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(handler=_eval)
