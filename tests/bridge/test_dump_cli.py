"""``dexbridge dump``: voices or a bank of slots into .syx and .mid, read back by bridge.midi.syxfile."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest

from bridge.commands.cli import main
from bridge.commands.dump import dump_messages
from bridge.midi.sysex import BANK_DUMP_SIZE, VOICE_DUMP_SIZE, decode_sysex
from bridge.midi.syxfile import read_syx_messages, read_syx_voices, write_voice_syx
from models.errors import SysexEncodeError
from models.voice import Voice


@pytest.fixture(scope="module")
def brass(brass_path: Path) -> tuple[Voice, ...]:
    return decode_sysex(brass_path.read_bytes()).voices


def test_one_voice_to_syx_and_mid(
    tmp_path: Path, brass_path: Path, brass: tuple[Voice, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    syx, mid = tmp_path / "v.syx", tmp_path / "v.mid"
    assert main(["dump", str(brass_path), "--index", "4", "--out", str(syx), "--out", str(mid), "--channel", "3"]) == 0
    assert "wrote 1 voice dump" in capsys.readouterr().out
    [message] = read_syx_messages(syx)
    assert len(message) == VOICE_DUMP_SIZE and message[2] == 0x02
    assert [v.voice for v in read_syx_voices(syx).voices] == [brass[4]]
    events = [m for m in mido.MidiFile(mid).tracks[0] if m.type == "sysex"]
    assert [bytes(e.bytes()) for e in events] == [message]


def test_slots_from_several_files_into_one_bank(tmp_path: Path, brass_path: Path, brass: tuple[Voice, ...]) -> None:
    single = tmp_path / "single.syx"
    write_voice_syx(single, Voice.init("LONE"))
    out = tmp_path / "bank.syx"
    assert main(["dump", str(single), "--bundled", "brass", "--index", "0", "--index", "9", "--index", "32",
                 "--bank", "--out", str(out)]) == 0
    [message] = read_syx_messages(out)
    assert len(message) == BANK_DUMP_SIZE
    voices = [item.voice for item in read_syx_voices(out, strict=True).voices]
    assert voices[:3] == [Voice.init("LONE"), brass[8], brass[31]]
    assert voices[3:] == [Voice.init("INIT VOICE")] * 29


def test_every_voice_by_default_as_voice_dumps(tmp_path: Path, brass_path: Path, brass: tuple[Voice, ...]) -> None:
    out = tmp_path / "all.syx"
    assert main(["dump", str(brass_path), "--out", str(out)]) == 0
    assert [item.voice for item in read_syx_voices(out, strict=True).voices] == list(brass)
    assert len(read_syx_messages(out)) == 32


def test_bad_requests_exit_2_and_write_nothing(tmp_path: Path, brass_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.syx"
    assert main(["dump", str(brass_path), "--index", "32", "--out", str(out)]) == 2
    assert "--index 32 out of range: the inputs hold 32 voices (0..31)" in capsys.readouterr().err
    assert main(["dump", str(brass_path), "--out", str(out), "--out", str(tmp_path / "x.wav")]) == 2
    assert "unknown suffix '.wav'" in capsys.readouterr().err
    assert main(["dump", "--out", str(out)]) == 2
    assert "give .syx files or --bundled brass" in capsys.readouterr().err
    assert main(["dump", str(brass_path), str(brass_path), "--bank", "--out", str(out)]) == 2
    assert "64 voices do not fit a 32-voice bank" in capsys.readouterr().err
    assert main(["dump", str(tmp_path / "missing.syx"), "--out", str(out)]) == 2
    assert "missing.syx not found: give an existing DX7 .syx (SysEx) file" in capsys.readouterr().err
    assert main(["dump", str(brass_path), "--out", str(tmp_path / "no" / "x.syx")]) == 2
    assert f"the folder {tmp_path / 'no'} does not exist; create it first" in capsys.readouterr().err
    assert not list(tmp_path.iterdir()), "no file, no temp file left behind"


def test_dump_messages_refuses_nothing_to_write() -> None:
    with pytest.raises(SysexEncodeError, match="no voice to dump"):
        dump_messages([], bank=False)
