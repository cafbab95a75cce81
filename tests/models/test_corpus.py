"""The SQLite corpus: de-duplication, clamps, problems, silence, labels, split, reading back."""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from models.corpus import (
    CorpusEntry,
    CorpusProblem,
    SplitSpec,
    build_corpus,
    open_corpus,
    split_of,
)
from models.errors import CorpusError
from models.params import BY_NAME, NAME_START
from models.voice import ClampReport, Voice

CLEAN = ClampReport()


def _set(voice: Voice, **values: int) -> Voice:
    return voice.replace({BY_NAME[name].index: value for name, value in values.items()})


def _distinct(n: int) -> list[Voice]:
    """n voices differing in OP1 coarse and fine (n <= 3200)."""
    return [_set(Voice.init(f"V{i:04d}"), op1_coarse=i % 32, op1_fine=i // 32) for i in range(n)]


def _entries(voices: list[Voice], source: str = "a.syx") -> list[CorpusEntry]:
    return [CorpusEntry(v, CLEAN, source, slot) for slot, v in enumerate(voices)]


def _sql(path: Path, sql: str) -> list[tuple]:
    """Run one statement on a corpus file (committed), returning its rows."""
    with closing(sqlite3.connect(path)) as db, db:
        return db.execute(sql).fetchall()


def _splits(path: Path) -> dict[bytes, str]:
    return dict(_sql(path, "SELECT vced, split FROM voices"))


def test_duplicates_become_one_voice_with_every_name_and_source(tmp_path: Path) -> None:
    first, second = Voice.init("FIRST"), Voice.init("SECOND")
    entries = [CorpusEntry(first, CLEAN, "a.syx", 3), CorpusEntry(second, CLEAN, "b.syx", 0)]
    stats = build_corpus(tmp_path / "c.sqlite", entries)
    assert (stats["voices"], stats["slots"], stats["duplicates"], stats["sources"]) == (1, 2, 1, 2)
    with open_corpus(tmp_path / "c.sqlite") as corpus:
        assert corpus.voices() == [first]  # the first name seen names the voice
    rows = _sql(tmp_path / "c.sqlite", "SELECT voice_id, source, slot, name, clamps FROM occurrences ORDER BY rowid")
    assert rows == [(1, "a.syx", 3, "FIRST     ", ""), (1, "b.syx", 0, "SECOND    ", "")]


def test_clamped_voices_are_flagged_with_their_report(tmp_path: Path) -> None:
    values = list(Voice.init("BROKEN").values)
    values[BY_NAME["algorithm"].index] = 40
    broken, report = Voice.clamped(values)
    entries = [CorpusEntry(broken, report, "a.syx", 0), CorpusEntry(broken, CLEAN, "b.syx", 0)]
    entries += _entries([Voice.init("CLEAN").replace({0: 50})], "c.syx")
    stats = build_corpus(tmp_path / "c.sqlite", entries)
    assert (stats["clamped"], stats["clamped_slots"]) == (1, 1)
    assert _sql(tmp_path / "c.sqlite", "SELECT name, clamped, algorithm FROM voices ORDER BY id") == [
        ("BROKEN    ", 1, 31), ("CLEAN     ", 0, 0)]
    clamps = _sql(tmp_path / "c.sqlite", "SELECT clamps FROM occurrences WHERE source = 'a.syx'")
    assert clamps == [("param 134 ALGORITHM = 40 -> 31",)]


def test_problems_are_recorded_and_the_build_goes_on(tmp_path: Path) -> None:
    problems = [CorpusProblem("bad.syx", "bad.syx offset 0: truncated message")]
    stats = build_corpus(tmp_path / "c.sqlite", _entries(_distinct(2)), problems=problems)
    assert (stats["voices"], stats["problems"], stats["sources"]) == (2, 1, 2)


def test_names_with_control_characters_come_back_byte_for_byte(tmp_path: Path) -> None:
    odd = Voice.from_values(Voice.init().values[:NAME_START] + (0, 1, 65, 127, 32, 32, 32, 32, 32, 7))
    build_corpus(tmp_path / "c.sqlite", _entries([odd]))
    with open_corpus(tmp_path / "c.sqlite") as corpus:
        assert corpus.voices()[0].vced == odd.vced


def test_the_split_is_a_function_of_the_voice_alone(tmp_path: Path) -> None:
    voices = _distinct(300)
    build_corpus(tmp_path / "forward.sqlite", _entries(voices))
    build_corpus(tmp_path / "backward.sqlite", _entries(voices[::-1], "other.syx"))
    forward, backward = _splits(tmp_path / "forward.sqlite"), _splits(tmp_path / "backward.sqlite")
    assert forward == backward
    assert set(forward.values()) == {"train", "validation", "test"}
    with open_corpus(tmp_path / "forward.sqlite") as corpus:
        assert sum(corpus.count(s) for s in ("train", "validation", "test")) == corpus.count() == 300
        test_ids = corpus.ids("test")
        assert [v.vced[:NAME_START] for v in corpus.voices("test")] == [
            k for k, s in forward.items() if s == "test"]
        assert test_ids == sorted(test_ids) and len(test_ids) == corpus.count("test")


def test_split_fractions_and_a_stable_test_set() -> None:
    keys = [hashlib.sha256(i.to_bytes(4, "big")).digest() * 5 for i in range(4000)]
    default = [split_of(k, SplitSpec()) for k in keys]
    assert abs(default.count("test") / 4000 - 0.20) < 0.03
    assert abs(default.count("validation") / 4000 - 0.08) < 0.02
    rebalanced = [split_of(k, SplitSpec(train=0.6, validation=0.2, test=0.2)) for k in keys]
    assert [s == "test" for s in rebalanced] == [s == "test" for s in default]
    reseeded = [split_of(k, SplitSpec(seed=1)) for k in keys]
    assert reseeded != default
    with pytest.raises(CorpusError, match="must be >= 0 and sum to 1"):
        SplitSpec(train=0.8, validation=0.1, test=0.2)


def test_silent_voices_are_dropped_on_request_and_flagged_otherwise(tmp_path: Path) -> None:
    silent = _set(Voice.init("SILENT"), op1_output_level=0)
    entries = _entries([Voice.init("SINE"), silent])
    dropped = build_corpus(tmp_path / "dropped.sqlite", entries, drop_silent=True, workers=1)
    assert (dropped["voices"], dropped["distinct"], dropped["silent_dropped"]) == (1, 2, 1)
    kept = build_corpus(tmp_path / "kept.sqlite", entries, label=True, workers=1)
    assert (kept["voices"], kept["silent"], kept["silent_dropped"]) == (2, 1, 0)
    assert kept["labels"] == {"harmonic": 1, "percussive": 0, "sfx": 0, "unlabelled": 1}
    rows = _sql(tmp_path / "kept.sqlite", "SELECT name, label, silent, max_rms > -60 FROM voices ORDER BY id")
    assert rows == [("SINE      ", "harmonic", 0, 1), ("SILENT    ", None, 1, 0)]
    plain = build_corpus(tmp_path / "plain.sqlite", entries)
    assert plain["labels"]["unlabelled"] == 2 and plain["silent"] == 0
    assert _sql(tmp_path / "plain.sqlite", "SELECT COUNT(*) FROM voices WHERE max_rms IS NULL AND silent IS NULL") == [
        (2,)]


def test_stats_record_the_build(tmp_path: Path) -> None:
    stats = build_corpus(tmp_path / "c.sqlite", _entries(_distinct(3)), silence_db=-50.0, drop_silent=True, workers=1)
    assert stats["build"] == {"drop_silent": True, "silence_db": -50.0, "label": False}
    assert stats["split"] == {"train": 0.72, "validation": 0.08, "test": 0.2, "seed": 0}
    assert stats["voices"] == 3 and sum(stats["splits"].values()) == 3


def test_open_corpus_names_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="not found: build one with 'dexbridge corpus build"):
        open_corpus(tmp_path / "missing.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"\xf0\x43" * 600)
    with pytest.raises(CorpusError, match="is not a dexbridge corpus"):
        open_corpus(junk)
    other = tmp_path / "other.sqlite"
    _sql(other, "CREATE TABLE meta (key TEXT, value TEXT)")
    with pytest.raises(CorpusError, match="no format 'dexbridge-corpus'"):
        open_corpus(other)
    build_corpus(tmp_path / "c.sqlite", _entries(_distinct(1)))
    _sql(tmp_path / "c.sqlite", "UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(CorpusError, match="schema version 99; this dexbridge reads version 1"):
        open_corpus(tmp_path / "c.sqlite")
    build_corpus(tmp_path / "fresh.sqlite", _entries(_distinct(1)))
    with open_corpus(tmp_path / "fresh.sqlite") as corpus, pytest.raises(CorpusError, match="unknown split 'dev'"):
        corpus.count("dev")


def test_build_replaces_a_corpus_atomically_but_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "c.sqlite"
    build_corpus(out, _entries(_distinct(2)))
    assert build_corpus(out, _entries(_distinct(3)))["voices"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["c.sqlite"]  # no temp file left behind
    precious = tmp_path / "bank.syx"
    precious.write_bytes(b"\xf0\x43\x00\x09\xf7")
    with pytest.raises(CorpusError, match="refusing to replace .*bank.syx"):
        build_corpus(precious, _entries(_distinct(1)))
    assert precious.read_bytes() == b"\xf0\x43\x00\x09\xf7"
    with pytest.raises(CorpusError, match="no voice to store"):
        build_corpus(tmp_path / "empty.sqlite", [])
    assert not (tmp_path / "empty.sqlite").exists()
