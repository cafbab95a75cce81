"""``dexbridge corpus build / stats`` on a small generated set of real .syx files."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from bridge.commands.cli import main
from bridge.midi.sysex import DUMP_HEADER_SIZE, checksum, encode_bank_dump, encode_voice_dump
from models.params import BY_NAME
from models.voice import Voice

SINE = Voice.init("SINE")
SILENT = SINE.replace({BY_NAME["op1_output_level"].index: 0}).with_name("SILENT")
TRUNCATED = bytes([0xF0, 0x43, 0x00, 0x09, 0x20, 0x00, 0x01, 0x02])  # a bank dump cut short, no F7


def _others(n: int) -> list[Voice]:
    return [SINE.replace({BY_NAME["op1_coarse"].index: 2 + i}).with_name(f"V{i:02d}") for i in range(n)]


def _out_of_range_dump() -> bytes:
    """A single voice dump whose algorithm byte is 40 (range 0..31), with a correct checksum."""
    dump = bytearray(encode_voice_dump(SINE.replace({BY_NAME["op1_fine"].index: 99}).with_name("BROKEN")))
    dump[DUMP_HEADER_SIZE + BY_NAME["algorithm"].index] = 40
    dump[-2] = checksum(bytes(dump[DUMP_HEADER_SIZE:-2]))
    return bytes(dump)


@pytest.fixture
def banks(tmp_path: Path) -> Path:
    """bank.syx (SINE, SILENT, 30 others), sub/DUP.SYX (SINE renamed + a truncated message),
    sub/broken.syx (an out-of-range value), junk.syx (no SysEx at all), a .txt to ignore."""
    root = tmp_path / "banks"
    (root / "sub").mkdir(parents=True)
    (root / "bank.syx").write_bytes(encode_bank_dump([SINE, SILENT, *_others(30)]))
    (root / "sub" / "DUP.SYX").write_bytes(encode_voice_dump(SINE.with_name("SINE COPY")) + TRUNCATED)
    (root / "sub" / "broken.syx").write_bytes(_out_of_range_dump())
    (root / "junk.syx").write_bytes(b"not a sysex file at all")
    (root / "notes.txt").write_bytes(encode_voice_dump(Voice.init("IGNORED")))
    return root


def _stats(path: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert main(["corpus", "stats", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _sql(path: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(sql).fetchall()


def test_build_keeps_distinct_voices_with_names_clamps_and_problems(
    banks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "corpus.sqlite"
    assert main(["corpus", "build", str(banks), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "33 voices (33 distinct in 34 slots, 1 duplicates, 0 silent dropped)" in printed
    assert f"built {out} from 4 files in " in printed
    stats = _stats(out, capsys)
    assert (stats["voices"], stats["slots"], stats["duplicates"]) == (33, 34, 1)
    assert (stats["clamped"], stats["problems"], stats["sources"]) == (1, 2, 4)
    assert stats["labels"]["unlabelled"] == 33
    names = _sql(out, "SELECT o.name, o.source FROM occurrences o JOIN voices v ON v.id = o.voice_id "
                 "WHERE v.name LIKE 'SINE%' ORDER BY o.rowid")
    assert names == [("SINE      ", str(banks / "bank.syx")), ("SINE COPY ", str(banks / "sub" / "DUP.SYX"))]
    assert _sql(out, "SELECT name, algorithm FROM voices WHERE clamped = 1") == [("BROKEN    ", 31)]
    problems = dict(_sql(out, "SELECT source, message FROM problems"))
    assert "cut short before its F7" in problems[str(banks / "sub" / "DUP.SYX")]
    assert "junk.syx: no DX7 voice" in problems[str(banks / "junk.syx")]


def test_drop_silent_and_label(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, out = tmp_path / "two.syx", tmp_path / "corpus.sqlite"
    source.write_bytes(encode_voice_dump(SINE) + encode_voice_dump(SILENT))
    args = ["corpus", "build", str(source), "--out", str(out), "--drop-silent", "--label", "--workers", "1"]
    assert main(args) == 0
    assert "labels: harmonic 1, percussive 0, sfx 0, unlabelled 0" in capsys.readouterr().out
    stats = _stats(out, capsys)
    assert (stats["voices"], stats["distinct"], stats["silent_dropped"]) == (1, 2, 1)
    assert _sql(out, "SELECT name, label FROM voices") == [("SINE      ", "harmonic")]
    assert main(["corpus", "build", str(source), "--out", str(out), "--label", "--workers", "1"]) == 0
    assert "silent (kept, flagged): 1" in capsys.readouterr().out
    assert _stats(out, capsys)["voices"] == 2


def test_split_is_the_same_whatever_the_order_of_sources(banks: Path, tmp_path: Path) -> None:
    forward, backward = tmp_path / "forward.sqlite", tmp_path / "backward.sqlite"
    assert main(["corpus", "build", str(banks), "--out", str(forward)]) == 0
    reordered = [str(banks / "sub"), str(banks / "junk.syx"), str(banks / "bank.syx"), str(banks)]  # read once
    assert main(["corpus", "build", *reordered, "--out", str(backward)]) == 0
    split_of = dict(_sql(forward, "SELECT vced, split FROM voices"))
    assert split_of == dict(_sql(backward, "SELECT vced, split FROM voices"))
    assert _sql(backward, "SELECT name FROM voices WHERE id = 1") == [("SINE COPY ",)]  # first seen names it
    assert _sql(backward, "SELECT COUNT(*) FROM occurrences") == [(34,)]


def test_stats_prints_a_summary(banks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "corpus.sqlite"
    assert main(["corpus", "build", str(banks / "bank.syx"), "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["corpus", "stats", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("32 voices (32 distinct in 32 slots, 0 duplicates, 0 silent dropped)")
    assert "splits: train " in printed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["corpus", "build", "{tmp}/nowhere", "--out", "{tmp}/c.sqlite"], "nowhere does not exist"),
        (["corpus", "build", "{tmp}/empty", "--out", "{tmp}/c.sqlite"], "no .syx file found in"),
        (["corpus", "build", "{tmp}/banks", "--out", "{tmp}/c.sqlite", "--strict"], "junk.syx"),
        (["corpus", "build", "{tmp}/banks/junk.syx", "--out", "{tmp}/c.sqlite"], "no voice to store"),
        (["corpus", "build", "{tmp}/banks", "--out", "{tmp}/banks/bank.syx"], "refusing to replace"),
        (["corpus", "stats", "{tmp}/missing.sqlite"], "missing.sqlite not found"),
        (["corpus", "stats", "{tmp}/banks/bank.syx", "--json"], "is not a dexbridge corpus"),
    ],
)
def test_errors_say_what_is_wrong(
    banks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no syx here")
    assert main([a.format(tmp=tmp_path) for a in args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "c.sqlite").exists()


def test_workers_must_be_positive(banks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["corpus", "build", str(banks), "--out", str(tmp_path / "c.sqlite"), "--workers", "0"])
    assert exit_info.value.code == 2
    assert "0 workers: need at least 1" in capsys.readouterr().err
