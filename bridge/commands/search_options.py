"""The search budget and voice-library options that ``infer``, ``eval``, ``eval-audio``, ``eval-takes`` and the
demo share, and the library an evaluation may search.

A budget is counted in renders, so the same recording and seed give the same voice under any load (another
CPU or NumPy build may round a score's last bits otherwise); ``--search-ms`` is an optional time cap on top.
An evaluation of corpus voices never searches the voices it scores: it keeps the library's training-split
voices only (the split is a pure function of each voice's parameters, as in the corpus) and leaves out the
scored voices themselves, and says so.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bridge.commands.argtypes import at_least
from engine.cores import all_cores
from engine.search_score import DEFAULT_SCORE, SCORES
from models.corpus import SplitSpec, split_of
from models.params import NAME_START
from models.voice import Voice

if TYPE_CHECKING:
    from engine.library import VoiceLibrary

INFER_RENDERS = 500
"""Renders one answer may take by default, its starts included."""


def milliseconds(text: str) -> float:
    """An argparse type: a time budget of 0 ms or more."""
    try:
        budget = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give milliseconds, e.g. 500") from None
    if not budget >= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the budget must be >= 0 ms")
    return budget


def add_budget_options(parser: argparse.ArgumentParser, what: str = "recording") -> None:
    """``--max-renders N`` (default :data:`INFER_RENDERS`) and ``--search-ms MS`` (an optional cap)."""
    parser.add_argument("--max-renders", type=at_least(1, "renders"), default=INFER_RENDERS, metavar="N",
                        help=f"search budget per {what} in renders (default {INFER_RENDERS}, starts included): the "
                        "same input and seed give the same voice however busy the machine is")
    parser.add_argument("--search-ms", type=milliseconds, default=None, metavar="MS",
                        help="also stop the search after MS milliseconds (none by default; with a time cap the voice "
                        "depends on the machine's speed and load; 0 = the first voice)")
    parser.add_argument("--score", choices=SCORES, default=DEFAULT_SCORE,
                        help=f"how the search compares a render with the recording (default {DEFAULT_SCORE}): spec, the "
                        "log-spectral MAE; mel, log-mel dB; spec+mel, both; spec+mel+env, also the level envelope (how long "
                        "the note rings: a pluck's tail; measured farther on the spectra); spec+mel+mfcc, also the mel "
                        "part's MFCCs (closer on timbre, farther on the log-spectral MAE)")
    parser.add_argument("--workers", type=at_least(1, "workers"), default=all_cores(), metavar="N",
                        help=f"processes that render for the search (default: every core, {all_cores()} here); the "
                        "voice does not depend on it")


def time_cap_ms(args: argparse.Namespace) -> float:
    """The ``--search-ms`` cap, infinite when none is given."""
    return math.inf if args.search_ms is None else float(args.search_ms)


def budget_text(args: argparse.Namespace) -> str:
    """The budget in words, for a summary line: ``"search 250 renders"`` or ``"search 250 renders or 1000 ms"``."""
    cap = "" if args.search_ms is None else f" or {args.search_ms:g} ms"
    return f"search {args.max_renders} renders{cap}"


def add_library_options(parser: argparse.ArgumentParser) -> None:
    """``--library LIB.npz`` (repeatable) and ``--no-library``."""
    parser.add_argument("--library", type=Path, action="append", metavar="LIB.npz",
                        help="also start from this voice library ('dexbridge library build'; repeatable)")
    parser.add_argument("--no-library", action="store_true", help="leave the shipped voice library out")


def search_library(args: argparse.Namespace, scored: Sequence[Voice] | None = None) -> tuple[VoiceLibrary | None, str]:
    """The libraries ``--library`` / ``--no-library`` ask for, and what they hold in words.

    Args:
        args: parsed ``add_library_options`` options.
        scored: the corpus voices an evaluation scores: then only training-split voices are kept and
            these voices are left out, so the search never finds the answer it is scored against.

    Raises:
        LibraryError: a library file that is missing or corrupt.
    """
    from engine.library import load_libraries

    library = load_libraries(args.library, not args.no_library)
    if library is None:
        return None, "no library"
    if scored is None:
        return library, f"library: {len(library)} voices"
    spec, left_out = SplitSpec(), {voice.values[:NAME_START] for voice in scored}
    kept = library.subset(lambda voice: voice.values[:NAME_START] not in left_out
                          and split_of(voice.vced[:NAME_START], spec) == "train")
    return kept, (f"library: training split only, {len(kept)} of {len(library)} voices (validation and test voices "
                  "and the scored voices left out)")
