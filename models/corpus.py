"""The voice corpus: distinct DX7 voices in one SQLite file, with their sources and a fixed split.

:func:`build_corpus` takes voices already decoded (reading files is ``bridge/``'s job), keeps one
row per distinct voice (VCED 0-144 equal; the name is ignored) and every occurrence with its
source, slot, name and clamps, optionally drops near-silent voices and labels the rest (see
:mod:`models.analysis`), and writes the file atomically. The split is a pure function of the
voice's bytes (:func:`split_of`), so a voice lands in the same split in any build, in any order.
:func:`open_corpus` reads it back.

Tables: ``voices`` (one row per distinct voice), ``occurrences`` (every slot it was found in),
``problems`` (messages the reader could not decode), ``meta`` (format, schema version, split,
build parameters and counts, values JSON-encoded).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypedDict

from models.errors import CorpusError
from models.params import NAME_START
from models.voice import ClampReport, Voice

if TYPE_CHECKING:  # renders and librosa load only to build a corpus: reading one stays light
    from models.analysis import SoundAnalysis

__all__ = [
    "SPLITS",
    "Corpus",
    "CorpusEntry",
    "CorpusProblem",
    "CorpusStats",
    "SplitSpec",
    "build_corpus",
    "open_corpus",
    "split_of",
]

FORMAT = "dexbridge-corpus"
SCHEMA_VERSION = 1
SPLITS = ("train", "validation", "test")
SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);  -- values JSON-encoded
CREATE TABLE voices (
    id INTEGER PRIMARY KEY,
    vced BLOB NOT NULL UNIQUE CHECK (length(vced) = 145),  -- VCED 0-144: the voice without its name
    name TEXT NOT NULL,  -- first name seen, exact 10 ASCII characters
    algorithm INTEGER NOT NULL,  -- 0-31 as stored (Dexed shows 1-32)
    clamped INTEGER NOT NULL,  -- 1 if any occurrence needed values brought into range
    split TEXT NOT NULL CHECK (split IN ('train', 'validation', 'test')),
    label TEXT CHECK (label IN ('harmonic', 'percussive', 'sfx')),
    harmonic_ratio REAL,
    percussive_ratio REAL,
    max_rms REAL,  -- dB re full scale, loudest frame of the (60, 85) render
    silent INTEGER  -- max_rms below the build's silence threshold
);
CREATE INDEX voices_by_split ON voices (split);
CREATE TABLE occurrences (
    voice_id INTEGER NOT NULL REFERENCES voices (id),
    source TEXT NOT NULL,
    slot INTEGER NOT NULL,
    name TEXT NOT NULL,
    clamps TEXT NOT NULL  -- '' when the slot decoded cleanly
);
CREATE INDEX occurrences_by_voice ON occurrences (voice_id);
CREATE TABLE problems (source TEXT NOT NULL, message TEXT NOT NULL);
"""


@dataclass(frozen=True)
class CorpusEntry:
    """One voice slot as read from a source: the voice, what was clamped, where it came from."""

    voice: Voice
    report: ClampReport
    source: str
    slot: int


@dataclass(frozen=True)
class CorpusProblem:
    """A message in a source that could not be decoded into voices."""

    source: str
    message: str


@dataclass(frozen=True)
class SplitSpec:
    """Split fractions by voice (DESIGN: 20 % test hold-out, the rest train / validation).

    Attributes:
        train, validation, test: fractions summing to 1.
        seed: keys the hash; a different seed draws a different (still fixed) split.

    Raises:
        CorpusError: a negative fraction, or fractions not summing to 1.
    """

    train: float = 0.72
    validation: float = 0.08
    test: float = 0.20
    seed: int = 0

    def __post_init__(self) -> None:
        fractions = (self.train, self.validation, self.test)
        if min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-9:
            raise CorpusError(
                f"split fractions train {self.train}, validation {self.validation}, test {self.test} "
                "must be >= 0 and sum to 1 (default 0.72 / 0.08 / 0.20)"
            )


def split_of(key: bytes, spec: SplitSpec) -> str:
    """The split of a voice: blake2b of its VCED 0-144 bytes, read as a uniform number in [0, 1).

    The test range comes first, so changing the train / validation balance never moves a voice
    in or out of the test set.
    """
    digest = hashlib.blake2b(key, digest_size=8, key=spec.seed.to_bytes(8, "big", signed=True)).digest()
    u = int.from_bytes(digest, "big") / 2.0**64
    if u < spec.test:
        return "test"
    return "validation" if u < spec.test + spec.validation else "train"


@dataclass
class _Distinct:
    """A distinct voice while building: first voice seen, and every occurrence."""

    voice: Voice
    clamped: bool = False
    occurrences: list[tuple[str, int, str, str]] = field(default_factory=list)


def _raw_name(voice: Voice) -> str:
    # Exact ASCII (control characters kept) so the voice rebuilds byte for byte.
    return voice.vced[NAME_START:].decode("ascii")


def _collect(entries: Iterable[CorpusEntry], progress: bool) -> tuple[dict[bytes, _Distinct], int]:
    from tqdm import tqdm

    distinct: dict[bytes, _Distinct] = {}
    slots = 0
    for entry in tqdm(entries, desc="dedupe", unit="slot", disable=not progress):
        slots += 1
        key = entry.voice.vced[:NAME_START]
        item = distinct.setdefault(key, _Distinct(entry.voice))
        item.clamped = item.clamped or bool(entry.report)
        clamps = str(entry.report) if entry.report else ""
        item.occurrences.append((entry.source, entry.slot, _raw_name(entry.voice), clamps))
    return distinct, slots


def _voice_row(voice_id: int, item: _Distinct, analysis: SoundAnalysis | None, split: SplitSpec,
               silence_db: float) -> tuple[object, ...]:
    key = item.voice.vced[:NAME_START]
    measured: tuple[object, ...] = (None,) * 5
    if analysis is not None:
        silent = int(analysis.max_rms_db < silence_db)
        measured = (analysis.label, analysis.harmonic_ratio, analysis.percussive_ratio, analysis.max_rms_db, silent)
    return (voice_id, key, _raw_name(item.voice), item.voice["algorithm"], int(item.clamped), split_of(key, split),
            *measured)


def _write(path: Path, voices: list[tuple[object, ...]], occurrences: list[tuple[object, ...]],
           problems: list[CorpusProblem], meta: dict[str, object]) -> None:
    with closing(sqlite3.connect(path)) as db, db:
        db.executescript(SCHEMA)
        db.executemany(f"INSERT INTO voices VALUES ({', '.join('?' * 11)})", voices)
        db.executemany("INSERT INTO occurrences VALUES (?, ?, ?, ?, ?)", occurrences)
        db.executemany("INSERT INTO problems VALUES (?, ?)", [(p.source, p.message) for p in problems])
        db.executemany("INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])


def build_corpus(
    out_path: Path,
    entries: Iterable[CorpusEntry],
    *,
    problems: Iterable[CorpusProblem] = (),
    drop_silent: bool = False,
    silence_db: float = -60.0,
    label: bool = False,
    split: SplitSpec = SplitSpec(),
    workers: int | None = None,
    progress: bool = False,
) -> CorpusStats:
    """Build a corpus file from decoded voice slots.

    Args:
        out_path: the SQLite file to write (replaced atomically; an existing file must be a corpus).
        entries: every voice slot read, in reading order (the first name seen names a voice).
        problems: undecodable messages to record.
        drop_silent: leave out voices whose loudest frame is below ``silence_db``.
        silence_db: silence threshold, max frame RMS in dB re full scale.
        label: label each voice harmonic / percussive / sfx (HPSS; see :mod:`models.analysis`).
        split: split fractions and seed.
        workers: render processes (``None``: one per CPU); only distinct voices are rendered.
        progress: tqdm bars on stderr.

    Returns:
        The new corpus's statistics.

    Raises:
        CorpusError: no voice at all, or ``out_path`` exists and is not a corpus.
    """
    out_path = Path(out_path)
    if out_path.exists():
        try:
            open_corpus(out_path).close()
        except CorpusError as exc:
            raise CorpusError(f"refusing to replace {out_path}: {exc}; choose another output path") from exc
    distinct, slots = _collect(entries, progress)
    if not distinct:
        raise CorpusError("no voice to store: the sources held no decodable DX7 voice")
    items = list(distinct.values())
    analyses: list[SoundAnalysis | None] = [None] * len(items)
    if drop_silent or label:
        from models.analysis import analyse_voices

        analyses = list(analyse_voices([i.voice for i in items], label=label, workers=workers, progress=progress))
    kept = [(i, a) for i, a in zip(items, analyses, strict=False) if not (drop_silent and a and a.max_rms_db < silence_db)]
    voice_rows = [_voice_row(n, item, a, split, silence_db) for n, (item, a) in enumerate(kept, start=1)]
    occurrence_rows = [(n, *o) for n, (item, _) in enumerate(kept, start=1) for o in item.occurrences]
    meta: dict[str, object] = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "split": {"train": split.train, "validation": split.validation, "test": split.test, "seed": split.seed},
        "build": {"drop_silent": drop_silent, "silence_db": silence_db, "label": label},
        "slots": slots,
        "distinct": len(items),
        "silent_dropped": len(items) - len(kept),
    }
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent)
    os.close(fd)
    try:
        _write(Path(tmp_name), voice_rows, occurrence_rows, list(problems), meta)
        os.replace(tmp_name, out_path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    with open_corpus(out_path) as corpus:
        return corpus.stats()


class CorpusStats(TypedDict):
    """What a corpus holds (JSON-ready)."""

    path: str
    voices: int  # distinct voices stored
    distinct: int  # distinct voices found, before dropping silent ones
    slots: int  # voice slots read
    duplicates: int  # slots - distinct
    clamped: int  # stored voices with a clamped occurrence
    clamped_slots: int
    silent: int  # stored voices flagged silent (kept: built without drop_silent)
    silent_dropped: int
    splits: dict[str, int]
    labels: dict[str, int]  # per label, plus "unlabelled"
    sources: int
    problems: int
    split: dict[str, Any]
    build: dict[str, Any]


class Corpus:
    """An open corpus file, read-only. Use :func:`open_corpus`; close it, or use it as a context."""

    def __init__(self, path: Path, db: sqlite3.Connection, meta: dict[str, Any]) -> None:
        self.path = path
        self.meta = meta
        self._db = db

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def _scalar(self, sql: str, *args: object) -> int:
        return int(self._db.execute(sql, args).fetchone()[0])

    def _split_filter(self, split: str | None) -> tuple[str, tuple[str, ...]]:
        if split is None:
            return "", ()
        if split not in SPLITS:
            raise CorpusError(f"unknown split '{split}': one of {', '.join(SPLITS)}")
        return " WHERE split = ?", (split,)

    def count(self, split: str | None = None) -> int:
        """Number of voices, in one split or in all."""
        where, args = self._split_filter(split)
        return self._scalar("SELECT COUNT(*) FROM voices" + where, *args)

    def ids(self, split: str | None = None) -> list[int]:
        """Voice ids in id order, in one split or in all."""
        where, args = self._split_filter(split)
        return [row[0] for row in self._db.execute(f"SELECT id FROM voices{where} ORDER BY id", args)]

    def voices(self, split: str | None = None) -> list[Voice]:
        """The voices (each with its first name seen) in id order, in one split or in all."""
        where, args = self._split_filter(split)
        rows = self._db.execute(f"SELECT vced, name FROM voices{where} ORDER BY id", args)
        return [Voice.from_values(vced + name.encode("ascii")) for vced, name in rows]

    def stats(self) -> CorpusStats:
        """Counts: voices, slots, duplicates, clamps, splits, labels, silence, sources, problems."""
        meta = self.meta
        splits = dict.fromkeys(SPLITS, 0) | dict(self._db.execute("SELECT split, COUNT(*) FROM voices GROUP BY split"))
        from models.analysis import LABELS

        labels = dict.fromkeys((*LABELS, "unlabelled"), 0)
        for label, n in self._db.execute("SELECT label, COUNT(*) FROM voices GROUP BY label"):
            labels[label or "unlabelled"] = n
        return CorpusStats(
            path=str(self.path),
            voices=self.count(),
            distinct=meta["distinct"],
            slots=meta["slots"],
            duplicates=meta["slots"] - meta["distinct"],
            clamped=self._scalar("SELECT COUNT(*) FROM voices WHERE clamped = 1"),
            clamped_slots=self._scalar("SELECT COUNT(*) FROM occurrences WHERE clamps != ''"),
            silent=self._scalar("SELECT COUNT(*) FROM voices WHERE silent = 1"),
            silent_dropped=meta["silent_dropped"],
            splits=splits,
            labels=labels,
            sources=self._scalar(
                "SELECT COUNT(*) FROM (SELECT source FROM occurrences UNION SELECT source FROM problems)"
            ),
            problems=self._scalar("SELECT COUNT(*) FROM problems"),
            split=meta["split"],
            build=meta["build"],
        )


def open_corpus(path: Path | str) -> Corpus:
    """Open a corpus file read-only.

    Raises:
        CorpusError: the file is missing, is not a dexbridge corpus, or has another schema version.
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"corpus {path} not found: build one with 'dexbridge corpus build SOURCES --out {path}'")
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        meta = {key: json.loads(value) for key, value in db.execute("SELECT key, value FROM meta")}
    except (sqlite3.DatabaseError, ValueError) as exc:
        db.close()
        raise CorpusError(f"{path} is not a dexbridge corpus ({exc})") from exc
    if meta.get("format") != FORMAT:
        db.close()
        raise CorpusError(f"{path} is not a dexbridge corpus (its meta table has no format '{FORMAT}')")
    if meta.get("schema_version") != SCHEMA_VERSION:
        db.close()
        raise CorpusError(
            f"{path} is a corpus of schema version {meta.get('schema_version')}; this dexbridge reads "
            f"version {SCHEMA_VERSION}: rebuild it with 'dexbridge corpus build'"
        )
    return Corpus(path, db, meta)
