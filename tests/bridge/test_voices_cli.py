"""``dexbridge voices`` and ``dexbridge voice`` through ``bridge.commands.cli.main``, checked against dexed-py."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import mido
import pytest
from dexed import Patch

from bridge.commands.cli import main
from bridge.midi.sysex import decode_sysex, encode_voice_dump
from models.params import LFO_WAVES

ROW = re.compile(r"^\s*(\d+)  (.{10})  \s*(\d+)  ")


@pytest.fixture(scope="module")
def brass_patches(brass_path: Path) -> list[Patch]:
    return Patch.load_bank(str(brass_path))


def test_voices_table_agrees_with_dexed(
    brass_path: Path, brass_patches: list[Patch], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["voices", str(brass_path)]) == 0
    header, *lines, legend = capsys.readouterr().out.splitlines()
    assert header.split()[:3] == ["#", "NAME", "ALG"]
    rows = [match.groups() for match in map(ROW.match, lines) if match]
    assert len(rows) == len(lines) == 32
    assert [int(index) for index, _, _ in rows] == list(range(32))
    assert [name.strip() for _, name, _ in rows] == [p.name.strip() or "(no name)" for p in brass_patches]
    assert [int(algorithm) for _, _, algorithm in rows] == [p.algorithm + 1 for p in brass_patches]
    assert legend == ("ALG = algorithm 1-32; TRANSPOSE = the note the middle C key plays and its shift in semitones "
                      "(Yamaha octaves: C3 = middle C)")


def test_a_voice_without_a_name_is_listed_as_such(tmp_path: Path, brass_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from models.voice import Voice

    blank = tmp_path / "blank.syx"
    blank.write_bytes(encode_voice_dump(Voice.init().with_name(""), channel=0))
    assert main(["voices", str(blank)]) == 0
    assert "    0  (no name)     1   0  C3 (+0)" in capsys.readouterr().out
    assert main(["voices", str(blank), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["name"] == ""


def test_voices_json_agrees_with_dexed(
    brass_path: Path, brass_patches: list[Patch], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["voices", str(brass_path), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [item["index"] for item in listing] == list(range(32))
    assert [item["name"] for item in listing] == [p.name.strip() for p in brass_patches]
    assert [item["algorithm"] for item in listing] == [p.algorithm + 1 for p in brass_patches]
    assert [item["feedback"] for item in listing] == [p.feedback for p in brass_patches]
    assert listing[5]["transpose"] == -12 and listing[5]["transpose_note"] == "C2"  # BRASS 5THS
    # the stored values of the same parameters, for machines: 0-based algorithm, transpose 24 = no shift
    assert listing[5]["vced"] == {"algorithm": brass_patches[5].algorithm, "feedback": brass_patches[5].feedback,
                                  "transpose": 12, "lfo_wave": LFO_WAVES.index(listing[5]["lfo_wave"])}
    assert all(item["clamped"] == [] for item in listing)


def test_bundled_bank_lists_the_same_voices(brass_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["voices", str(brass_path), "--json"]) == 0
    from_file = capsys.readouterr().out
    assert main(["voices", "--bundled", "brass", "--json"]) == 0
    assert capsys.readouterr().out == from_file


def test_voice_extracts_a_single_voice_dump(
    tmp_path: Path, brass_path: Path, brass_patches: list[Patch], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.syx"
    assert main(["voice", str(brass_path), "--index", "3", "--out", str(out)]) == 0
    voice = decode_sysex(brass_path.read_bytes()).voices[3]
    written = out.read_bytes()
    assert written == encode_voice_dump(voice, channel=0)
    assert written[6:161] == brass_patches[3].to_sysex()[:155]
    assert "wrote voice 3 'BRASS 4' (MIDI channel 1)" in capsys.readouterr().out


def test_voice_on_another_channel_as_a_midi_file(tmp_path: Path, brass_path: Path) -> None:
    out = tmp_path / "x.mid"
    assert main(["voice", "--bundled", "brass", "--index", "3", "--out", str(out), "--channel", "10"]) == 0
    sysex = [bytes(m.bytes()) for m in mido.MidiFile(out) if m.type == "sysex"]
    assert sysex == [encode_voice_dump(decode_sysex(brass_path.read_bytes()).voices[3], channel=9)]


@pytest.mark.parametrize("index", ["32", "-1"])
def test_voice_index_out_of_range_exits_2(
    tmp_path: Path, brass_path: Path, index: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.syx"
    assert main(["voice", str(brass_path), "--index", index, "--out", str(out)]) == 2
    assert f"--index {index} out of range: brass.syx holds 32 voices (0..31)" in capsys.readouterr().err
    assert not out.exists()


def test_voice_bad_suffix_and_missing_file(
    tmp_path: Path, brass_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["voice", str(brass_path), "--index", "0", "--out", str(tmp_path / "x.txt")]) == 2
    assert "unknown suffix '.txt', use .syx or .mid" in capsys.readouterr().err
    assert main(["voice", str(tmp_path / "absent.syx"), "--index", "0", "--out", str(tmp_path / "x.syx")]) == 2
    assert capsys.readouterr().err == (f"dexbridge voice: .syx file {tmp_path / 'absent.syx'} not found: give an "
                                       "existing DX7 .syx (SysEx) file\n")
    assert list(tmp_path.iterdir()) == []


def test_inputs_and_outputs_are_refused_in_plain_words(tmp_path: Path, brass_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["voices", str(tmp_path)]) == 2  # a folder, not a file
    assert capsys.readouterr().err == (f"dexbridge voices: .syx file {tmp_path} is a folder, not a file: name a DX7 .syx "
                                       "(SysEx) file in it\n")
    missing = tmp_path / "no" / "such" / "x.syx"
    assert main(["voice", str(brass_path), "--index", "0", "--out", str(missing)]) == 2
    assert capsys.readouterr().err == (f"dexbridge voice: --out {missing}: the folder {missing.parent} does not exist; "
                                       f"create it first (mkdir -p {missing.parent})\n")
    assert not (tmp_path / "no").exists()  # nothing created silently
    assert main(["voice", str(brass_path), "--index", "0", "--out", str(tmp_path)]) == 2
    assert f"--out {tmp_path} is a folder: name a file in it" in capsys.readouterr().err


def test_an_unreadable_file_is_refused_in_plain_words(brass_path: Path) -> None:
    """Root reads every file, so as root the command runs as ``nobody`` (setpriv), whom the lock stops."""
    folder = Path(tempfile.mkdtemp(prefix="dexbridge-locked-"))
    try:
        folder.chmod(0o755)
        locked = folder / "locked.syx"
        locked.write_bytes(brass_path.read_bytes())
        locked.chmod(0)
        as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
        result = subprocess.run([*as_user, sys.executable, "-m", "bridge.commands.cli", "voices", str(locked)],
                                capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
        assert result.returncode == 2
        assert result.stderr == (f"dexbridge voices: .syx file {locked} cannot be read (permission denied): check "
                                 "its permissions\n")
    finally:
        shutil.rmtree(folder)


def test_channel_outside_1_to_16_is_a_usage_error(brass_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["voice", str(brass_path), "--index", "0", "--out", "x.syx", "--channel", "17"])
    assert caught.value.code == 2
    assert "MIDI channel 17 out of range 1..16" in capsys.readouterr().err


def test_problems_are_warned_and_strict_refuses(
    tmp_path: Path, brass_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bank = brass_path.read_bytes()
    stale = tmp_path / "stale.syx"
    stale.write_bytes(bank[:-2] + bytes([(bank[-2] + 1) & 0x7F, 0xF7]))
    assert main(["voices", str(stale), "--json"]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 32
    assert "warning: stale.syx offset 0: checksum" in captured.err
    assert main(["voices", str(stale), "--strict"]) == 2
    assert "stale.syx offset 0: bank dump checksum" in capsys.readouterr().err
