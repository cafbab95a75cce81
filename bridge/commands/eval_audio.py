"""``dexbridge eval-audio``: how close and how in tune the answers to real recordings are.

Reading files (audio, a folder's ``manifest.json`` from ``scripts/render_instruments.py``) and
printing happen here; the scoring is :mod:`engine.eval.audio`.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge.atomicfile import atomic_write_text
from bridge.commands.argtypes import at_least
from bridge.commands.console import step
from bridge.commands.inputs import check_output, read_audio
from bridge.commands.search_options import add_budget_options, add_library_options, budget_text, search_library, time_cap_ms
from engine.backends import BACKENDS
from models.corpus import SPLITS, open_corpus
from models.errors import AudioFileError, CorpusError, ModelInputError
from models.voice import Voice

if TYPE_CHECKING:  # numpy, the renderer and the engine load in the handler: --help comes at once
    import numpy as np

    from models.render import Renderer

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aif", ".aiff")


Recording = tuple[str, Callable[[], tuple["np.ndarray", int]], float | None, str]
"""A name, how to get its audio and rate, the f0 it was made at when known, and its group."""
FILES_GROUP = "files"
"""The group of audio files given one by one (a folder's files are grouped by the folder's name)."""


def recordings(sources: list[Path]) -> list[Recording]:
    """Audio files of the sources (files, and folders searched for audio), with the f0 each was
    made at when a folder's ``manifest.json`` says it, grouped by folder.

    Raises:
        AudioFileError: a missing source, or no audio file at all.
    """
    found: list[tuple[Path, float | None, str]] = []
    for source in sources:
        if source.is_dir():
            manifest = source / "manifest.json"
            expected = {}
            if manifest.is_file():
                expected = {item["file"]: item.get("f0_hz") for item in json.loads(manifest.read_text())["notes"]}
            group = source.resolve().name
            found += [(p, expected.get(p.name), group) for p in sorted(source.iterdir())
                      if p.suffix.lower() in AUDIO_SUFFIXES]
        elif source.is_file():
            found.append((source, None, FILES_GROUP))
        else:
            raise AudioFileError(f"{source}: no such file or folder; give audio files or folders of them")
    if not found:
        raise AudioFileError(f"no audio file ({', '.join(AUDIO_SUFFIXES)}) in {', '.join(map(str, sources))}")
    return [(path.name, functools.partial(read_audio, path), expected, group) for path, expected, group in found]


def corpus_sample(corpus: Path, split: str, sample: int | None, seed: int) -> list[tuple[int, Voice]]:
    """(id, voice) of a corpus split, or of a seeded random sample of it.

    Raises:
        CorpusError: not a corpus, or an empty split.
    """
    with open_corpus(corpus) as opened:
        ids, voices = opened.ids(split), opened.voices(split)
    if not voices:
        raise CorpusError(f"no voice in the {split} split of {corpus}")
    picked = range(len(voices))
    if sample is not None and sample < len(voices):
        picked = sorted(random.Random(seed).sample(picked, sample))
    return [(ids[i], voices[i]) for i in picked]


def corpus_recordings(voices: list[tuple[int, Voice]], split: str) -> list[Recording]:
    """Corpus voices rendered at middle C (dexed-py, velocity 85), each named by its id: the in-domain
    set, where the f0 to reach is the original voice's own."""
    from models.render import Renderer

    renderer = Renderer()
    return [(f"{split}#{voice_id} {voice.name.strip()}", functools.partial(_render, renderer, voice), None,
             f"corpus {split}") for voice_id, voice in voices]


def _render(renderer: Renderer, voice: Voice) -> tuple[np.ndarray, int]:
    return renderer.render(voice, 60, 85), renderer.sample_rate


def _cell(value: float | None, pattern: str) -> str:
    return "-" if value is None else format(value, pattern)


def _eval_audio(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    if bool(args.sources) == (args.corpus is not None):
        raise AudioFileError("give audio files or folders, or --corpus CORPUS.sqlite (the in-domain set), not both")
    if args.json is not None:
        check_output(args.json, "--json")
    scored = None if args.sources else corpus_sample(args.corpus, args.split, args.sample, args.seed)
    files = recordings(args.sources) if scored is None else corpus_recordings(scored, args.split)
    from tqdm import tqdm

    from engine.eval.audio import METHODS, score_recording, summarise, summarise_groups
    from engine.runtime import Engine

    with step("loading the voice library and the model"):
        library, library_text = search_library(args, None if scored is None else [voice for _, voice in scored])
        engine = Engine.load(args.checkpoint, backend=args.backend, threads=args.threads, library=library,
                             search_budget_ms=time_cap_ms(args), search_max_renders=args.max_renders,
                             search_workers=args.workers, search_score=args.score)
    scores, refused = [], []
    for name, load, expected, group in tqdm(files, desc="eval-audio", unit="file", disable=args.quiet or not sys.stderr.isatty()):
        audio, rate = load()
        try:
            scores.append(score_recording(engine, library, name, audio, rate, expected_f0_hz=expected, group=group))
        except ModelInputError as error:
            refused.append({"file": name, "reason": str(error)})
    methods = [m for m in METHODS if scores and m in scores[0].answers]
    print(f"{'file':<28}{'input f0':>9}{'vibrato':>13}" + "".join(f"{m + ' mae/dB/mfcc':>28}{'cents':>8}" for m in methods))
    for s in scores:
        vibrato = "-" if s.input_vibrato is None else f"{s.input_vibrato.depth_cents:.0f}c {s.input_vibrato.rate_hz:.1f}Hz"
        print(f"{s.name[:27]:<28}{_cell(s.input_f0_hz, '.1f'):>9}{vibrato:>13}" + "".join(
            f"{s.answers[m].spec_mae:>14.3f}{s.answers[m].log_mel_db:>7.1f}{s.answers[m].mfcc:>7.1f}"
            f"{_cell(s.answers[m].cents, '+.0f'):>8}" for m in methods))
    groups = summarise_groups(scores)
    summary = summarise(scores)
    for title, rows in ([(f"group {group}", rows) for group, rows in groups.items()] if len(groups) > 1 else []) + [
            ("all recordings", summary)]:
        _print_summary(title, rows)
    print(f"{len(scores)} recordings scored, {len(refused)} refused, {library_text}, {budget_text(args)}, "
          f"{time.perf_counter() - started:.1f} s")
    for item in refused:
        print(f"refused {item['file']}: {item['reason']}")
    if args.json is not None:
        report = {"library": library_text, "search": budget_text(args), "summary": summary, "groups": groups,
                  "recordings": [s.to_dict() for s in scores], "refused": refused}
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    return 0


def _print_summary(title: str, summary: dict[str, dict[str, Any]]) -> None:
    """One summary table: a row per method (silent: the part of spec_mae on the bins where the recording is digitally
    silent; closer: on how many recordings it beats the nearest library voice
    on spec_mae / log-mel dB / MFCC / all three; the neural columns: the neural tracker on both sides, and
    octave errors by either tracker where the two agree on the recording's pitch)."""
    print(f"\n{title}\n{'method':<16}{'spec_mae':>9}{'silent':>8}{'log-mel dB':>11}{'mfcc':>7}{'closer s/m/c/all':>18}"
          f"{'pitched':>9}{'<=50 c':>8}{'median |c|':>11}{'octave err':>11}{'unpitched':>10}{'neural <=50':>12}{'agree':>7}"
          f"{'oct err agreed':>15}{'vibrato played':>15}")
    for method, row in summary.items():
        closer = row["closer_than_nearest"]
        closer_text = "/".join(str(closer[k]) for k in ("spec_mae", "log_mel_db", "mfcc", "all"))
        print(f"{method:<16}{row['spec_mae']:>9.3f}{row['spec_mae_silent']:>8.3f}{row['log_mel_db']:>11.2f}{row['mfcc']:>7.2f}{closer_text:>18}"
              f"{row['pitched_pairs']:>9}{_cell(row['within_50_cents'], '.0%'):>8}"
              f"{_cell(row['median_abs_cents'], '.1f'):>11}{row['octave_errors']:>11}{row['unpitched_answers']:>10}"
              f"{_cell(row['neural_within_50_cents'], '.0%'):>12}{row['trackers_agree']:>7}"
              f"{row['octave_errors_where_trackers_agree']:>15}{row['vibrato_matched']:>8}/{row['with_vibrato']:<6}")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``eval-audio``."""
    parser = subparsers.add_parser(
        "eval-audio", help="score the answers to real recordings: spectral error and pitch in cents, vs retrieval",
        description="For each recording: infer a voice as 'infer' does, render it at middle C (MIDI 60) with its "
        "transpose, as a player would, and compare it with the recording: log-spectral MAE (0 = identical; 'silent' is "
        "its part on the bins where the recording is digitally silent), log-mel dB, MFCC distance and the "
        "f0 of each side (cents between them when both are pitched). The baseline is the nearest library voice by "
        "sound, transposed to the input's pitch by its stored f0, and the same voice tuned. An independent neural tracker "
        "(CREPE) measures both sides too. Each folder is a group with its own summary. Make a set of real instrument "
        "notes with 'python scripts/render_instruments.py --out DIR', and of performed notes (vibrato, glides, sung "
        "vowels) with 'python scripts/render_performed_notes.py --out DIR'; --corpus scores renders of held-out "
        "voices instead (in domain: the f0 to reach is the original voice's).",
    )
    parser.add_argument("sources", nargs="*", type=Path, metavar="FILE|DIR", help="audio files, or folders of them")
    parser.add_argument("--corpus", type=Path, metavar="CORPUS.sqlite",
                        help="instead of files: render voices of a corpus split at middle C (the in-domain set)")
    parser.add_argument("--split", choices=SPLITS, default="test", help="the corpus split (default test)")
    parser.add_argument("--sample", type=at_least(1), metavar="N", help="a seeded random sample of N voices of the split")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="also write every score as JSON")
    add_budget_options(parser)
    add_library_options(parser)
    parser.add_argument("--checkpoint", type=Path, default=None, help="serving checkpoint (default: the shipped one)")
    parser.add_argument("--backend", default="auto", choices=("auto", *BACKENDS), help="inference backend")
    parser.add_argument("--threads", type=int, default=None, metavar="N", help="inference threads (default: all)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_eval_audio)
