"""``dexbridge library``: build a voice library with its spectral index, and search one by sound.

Reading the sources (.syx files, folders of them, a corpus split) happens here; rendering,
embedding, the file format and the search are :mod:`engine.library`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bridge.atomicfile import atomic_write
from bridge.commands.argtypes import at_least
from bridge.commands.console import step
from bridge.commands.inputs import check_output, read_audio
from bridge.midi.syxfile import SYX_SUFFIXES, read_syx_voices
from models.corpus import SPLITS, open_corpus
from models.voice import Voice

CORPUS_SUFFIXES = (".sqlite", ".db")


def _syx_files(source: Path) -> list[Path]:
    if source.is_dir():
        return sorted(p for p in source.rglob("*") if p.suffix.lower() in SYX_SUFFIXES and p.is_file())
    return [source]


def read_sources(sources: list[Path], split: str | None) -> tuple[list[Voice], list[str]]:
    """Distinct voices (parameters equal, names ignored) of .syx files, folders and corpus files, with their sources.

    Raises:
        LibraryError: a source that is missing, or no voice at all.
    """
    from engine.library import LibraryError  # torch: only once the arguments are good

    voices: list[Voice] = []
    names: list[str] = []
    seen: set[tuple[int, ...]] = set()

    def add(voice: Voice, source: str) -> None:
        if voice.values[:145] not in seen:
            seen.add(voice.values[:145])
            voices.append(voice)
            names.append(source)

    for source in sources:
        if not source.exists():
            raise LibraryError(f"{source}: no such file or folder; give .syx files, folders of them or a corpus.sqlite")
        if source.suffix.lower() in CORPUS_SUFFIXES:
            with open_corpus(source) as corpus:
                for voice_id, voice in zip(corpus.ids(split), corpus.voices(split), strict=True):
                    add(voice, f"{source.name}#{voice_id}")
            continue
        for path in _syx_files(source):
            for item in read_syx_voices(path).voices:
                add(item.voice, f"{path.name}:{item.slot + 1}")
    if not voices:
        raise LibraryError(f"no DX7 voice in {', '.join(map(str, sources))}")
    return voices, names


def _build(args: argparse.Namespace) -> int:
    from engine.library import VoiceLibrary, render_embeddings
    from models.config import FrontendConfig

    started = time.perf_counter()
    check_output(args.out, "--out")
    voices, sources = read_sources(args.sources, args.split)
    print(f"{len(voices)} distinct voices from {len(args.sources)} source(s); rendering each at note 60 ...", file=sys.stderr)
    embeddings, f0_hz = render_embeddings(voices, FrontendConfig(), workers=args.workers, progress=not args.quiet)
    VoiceLibrary(voices, sources, embeddings, f0_hz).save(args.out, atomic_write)
    size = args.out.stat().st_size
    print(f"library {args.out}: {len(voices)} voices, {size / 1e6:.2f} MB, {time.perf_counter() - started:.1f} s")
    return 0


def _search(args: argparse.Namespace) -> int:
    audio, sample_rate = read_audio(args.audio)  # refused before anything slow
    from engine.library import LibraryError, load_libraries
    from engine.runtime import Engine

    with step("loading the voice library and the model"):
        library = load_libraries(args.library, not args.no_default)
        if library is None:
            raise LibraryError("no library to search: drop --no-default or give --library PATH")
        engine = Engine.load(args.checkpoint, backend="auto", search=False)
    query = engine.embed_recording(audio, sample_rate)
    print(f"{'#':>3}  {'name':<10}  {'distance dB':>11}  source")
    for rank, match in enumerate(library.search(query, args.k), start=1):
        print(f"{rank:>3}  {match.voice.name:<10}  {match.distance:>11.2f}  {match.source}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``library build`` and ``library search``."""
    parser = subparsers.add_parser(
        "library", help="voice libraries indexed by sound: build one, search one",
        description="A voice library holds distinct DX7 voices with one embedding each, computed from a render at "
        "note 60: the voices a search starts from, found by sound. The shipped library is the training split of the "
        "DX7 corpus; 'infer', 'serve', 'eval' and 'demo' use it unless told --no-library.",
    )
    sub = parser.add_subparsers(dest="library_command", metavar="ACTION", required=True)
    build = sub.add_parser("build", help="render and index voices from .syx files, folders or a corpus split",
                           description="Read every voice of the sources, keep the distinct ones, render each at note "
                           "60 velocity 85 and store voices, sources and embeddings in one .npz file (no pickle).")
    build.add_argument("sources", nargs="+", type=Path, metavar="SOURCE",
                       help=".syx file, folder searched for .syx files, or corpus.sqlite ('dexbridge corpus build')")
    build.add_argument("--out", "-o", type=Path, required=True, metavar="LIB.npz", help="library file to write")
    build.add_argument("--split", choices=SPLITS, default=None,
                       help="for corpus sources: only this split (the shipped library is --split train)")
    build.add_argument("--workers", type=at_least(1), default=2, metavar="N", help="render processes (default: 2)")
    build.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    build.set_defaults(handler=_build)
    search = sub.add_parser("search", help="list the library voices closest to a recording",
                            description="Condition the recording as 'infer' does (level, onset, pitch to a C) and "
                            "list the library voices whose renders are closest, with their distance in dB.")
    search.add_argument("audio", type=Path, metavar="AUDIO", help="a recording of one note (WAV, FLAC, OGG)")
    search.add_argument("--library", type=Path, action="append", metavar="LIB.npz",
                        help="also search this library (repeatable)")
    search.add_argument("--no-default", action="store_true", help="leave the shipped library out")
    search.add_argument("-k", type=at_least(1), default=8, metavar="N", help="how many voices to list (default: 8)")
    search.add_argument("--checkpoint", type=Path, default=None, help="checkpoint whose conditioning is used")
    search.set_defaults(handler=_search)
