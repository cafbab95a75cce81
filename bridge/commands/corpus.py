"""``dexbridge corpus``: build the voice corpus from .syx files, and describe one.

Reading files happens here; de-duplication, rendering, labelling, the split and the SQLite file
are :mod:`models.corpus`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

from bridge.commands.argtypes import at_least
from bridge.midi.syxfile import SYX_SUFFIXES, read_syx_voices
from models.corpus import (
    CorpusEntry,
    CorpusProblem,
    CorpusStats,
    build_corpus,
    open_corpus,
)
from models.errors import CorpusError, SysexDecodeError


def find_syx_files(sources: Sequence[Path]) -> list[Path]:
    """The files to read: each file as given, and every ``*.syx`` (any case) under each directory.

    Directory contents come in sorted order, so a build reads the same files in the same order;
    a file named twice (directly or through a directory) is read once.

    Raises:
        CorpusError: a source does not exist, or no .syx file was found at all.
    """
    files: dict[Path, Path] = {}  # resolved -> as found
    for source in sources:
        if source.is_dir():
            found = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in SYX_SUFFIXES)
        elif source.is_file():
            found = [source]
        else:
            raise CorpusError(f"source {source} does not exist: give .syx files or directories holding them")
        for path in found:
            files.setdefault(path.resolve(), path)
    if not files:
        raise CorpusError(f"no .syx file found in {', '.join(map(str, sources))} (searched recursively, any case)")
    return list(files.values())


def read_entries(files: Sequence[Path], *, strict: bool) -> tuple[list[CorpusEntry], list[CorpusProblem]]:
    """Every voice slot of the files, and what could not be read.

    A file with no readable voice at all becomes one problem, unless ``strict``.

    Raises:
        SysexDecodeError: when ``strict``, the first problem in any file.
        OSError: a file cannot be read.
    """
    entries: list[CorpusEntry] = []
    problems: list[CorpusProblem] = []
    from tqdm import tqdm

    for path in tqdm(files, desc="read", unit="file"):
        try:
            contents = read_syx_voices(path, strict=strict)
        except SysexDecodeError as exc:
            if strict:
                raise
            problems.append(CorpusProblem(str(path), str(exc)))
            continue
        entries.extend(CorpusEntry(v.voice, v.report, str(path), v.slot) for v in contents.voices)
        problems.extend(CorpusProblem(str(path), message) for message in contents.problems)
    return entries, problems


def _build(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    files = find_syx_files(args.sources)
    entries, problems = read_entries(files, strict=args.strict)
    stats = build_corpus(
        args.out, entries, problems=problems, drop_silent=args.drop_silent, silence_db=args.silence_db,
        label=args.label, workers=args.workers, progress=True,
    )
    print(_summary(stats))
    print(f"built {args.out} from {len(files)} files in {time.perf_counter() - started:.1f} s")
    return 0


def _summary(stats: CorpusStats) -> str:
    splits, labels = stats["splits"], stats["labels"]
    lines = [
        f"{stats['voices']} voices ({stats['distinct']} distinct in {stats['slots']} slots, "
        f"{stats['duplicates']} duplicates, {stats['silent_dropped']} silent dropped)",
        f"clamped: {stats['clamped']} voices ({stats['clamped_slots']} slots); "
        f"problems: {stats['problems']}; sources: {stats['sources']}",
        "splits: " + ", ".join(f"{name} {n}" for name, n in splits.items()),
    ]
    if stats["build"]["label"]:
        lines.append("labels: " + ", ".join(f"{name} {n}" for name, n in labels.items()))
    if stats["silent"]:
        lines.append(f"silent (kept, flagged): {stats['silent']}")
    return "\n".join(lines)


def _stats(args: argparse.Namespace) -> int:
    with open_corpus(args.corpus) as corpus:
        stats = corpus.stats()
    print(json.dumps(stats, indent=2) if args.json else _summary(stats))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``corpus build`` and ``corpus stats``."""
    corpus = subparsers.add_parser(
        "corpus", help="build and inspect the voice corpus (SQLite)",
        description="The training corpus: distinct DX7 voices from .syx files, with sources, flags and a fixed split.",
    )
    actions = corpus.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)
    build = actions.add_parser(
        "build", help="read .syx files into a corpus file",
        description="Read every voice of the sources (bank and single-voice dumps, raw banks), unpack each as "
        "Dexed does, keep one row per distinct voice (VCED 0-144 equal; names ignored) with every name and "
        "source, and assign each a fixed train/validation/test split (72/8/20 %) by a hash of its bytes. "
        "Undecodable messages are recorded as problems and skipped (unless --strict).",
        epilog="example: dexbridge corpus build ~/dx7/ more.syx --out corpus.sqlite --drop-silent --label",
    )
    build.add_argument("sources", nargs="+", type=Path, metavar="SOURCE",
                       help=".syx file, or directory searched recursively for *.syx (any case)")
    build.add_argument("--out", "-o", type=Path, required=True, metavar="PATH",
                       help="corpus file to write (SQLite; an existing corpus is replaced atomically)")
    build.add_argument("--drop-silent", action="store_true",
                       help="render each voice (note 60, velocity 85) and leave out the near-silent ones")
    build.add_argument("--silence-db", type=float, default=-60.0, metavar="DB",
                       help="silence threshold: loudest frame RMS in dB re full scale (default -60)")
    build.add_argument("--label", action="store_true",
                       help="label each voice harmonic / percussive / sfx by HPSS, as Le Vaillant et al. 2021 did")
    build.add_argument("--workers", type=at_least(1, "workers"), default=None, metavar="N",
                       help="render processes for --drop-silent / --label (default: one per CPU)")
    build.add_argument("--strict", action="store_true",
                       help="stop at the first undecodable message, bad checksum or out-of-range value "
                       "instead of recording it and going on")
    build.set_defaults(handler=_build)
    stats = actions.add_parser("stats", help="count what a corpus holds",
                               description="Voices, slots, duplicates, clamps, splits, labels, sources, problems.")
    stats.add_argument("corpus", type=Path, metavar="CORPUS", help="corpus file (from 'dexbridge corpus build')")
    stats.add_argument("--json", action="store_true", help="print the counts as JSON (key 'voices': distinct voices)")
    stats.set_defaults(handler=_stats)
