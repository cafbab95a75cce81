"""The files folder: paths resolved inside --files-dir, escapes refused alike, foreign files kept."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest

from bridge.daemon.files import MAX_DUMP_FILE_BYTES, FileArea, FileAreaError, default_files_dir, holds_dx7_dumps
from bridge.midi.sysex import encode_bank_dump, encode_param_change, encode_voice_dump
from bridge.midi.syxfile import write_midi_file, write_syx
from models.errors import ConfigError
from models.voice import Voice


def test_the_default_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_files_dir({"XDG_DATA_HOME": "/data"}) == Path("/data/dexbridge")
    assert default_files_dir({"XDG_DATA_HOME": "relative"}) == Path.home() / ".local/share/dexbridge"
    assert default_files_dir({}) == Path.home() / ".local/share/dexbridge"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    area = FileArea.open()
    assert area.folders == (tmp_path / "data" / "dexbridge",) and area.write_folder.is_dir(), "created at start"


def test_open_wants_every_folder_given_to_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "library").mkdir()
    area = FileArea.open([tmp_path / "files", tmp_path / "library", tmp_path / "library"])
    assert area.folders == (tmp_path / "files", tmp_path / "library") and not area.overwrite
    for folders in ([tmp_path / "new" / "files"], [tmp_path, tmp_path / "missing"]):
        with pytest.raises(ConfigError, match=r"files_dir .*/(files|missing): no such folder; create it \(mkdir -p .*\) "
                                              r"or correct --files-dir"):
            FileArea.open(folders)
    assert not (tmp_path / "new").exists(), "a typo is not made a folder"
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "a-file"))
    with pytest.raises(ConfigError, match=r"files_dir .*/a-file/dexbridge: cannot create it .*give --files-dir a folder"):
        FileArea.open()


@pytest.fixture
def area(tmp_path: Path) -> FileArea:
    files, library, outside = tmp_path / "files", tmp_path / "library", tmp_path / "outside"
    for folder in (files, library, outside):
        folder.mkdir()
    write_syx(files / "mine.syx", [encode_voice_dump(Voice.init())])
    write_syx(library / "bank.syx", [encode_voice_dump(Voice.init())])
    (outside / "secret.syx").write_bytes(b"secret")
    (files / "out").symlink_to(outside, target_is_directory=True)
    (files / "loop").symlink_to(files / "loop")
    return FileArea.open([files, library])


def test_reads_resolve_inside_any_folder(area: FileArea, tmp_path: Path) -> None:
    files, library = area.folders
    assert area.resolve_read("mine.syx") == files / "mine.syx"
    assert area.resolve_read("bank.syx") == library / "bank.syx"  # relative: the first folder that has it
    assert area.resolve_read(str(library / "bank.syx")) == library / "bank.syx"
    assert area.resolve_read("sub/../mine.syx") == files / "mine.syx"  # '..' that stays inside is fine
    with pytest.raises(FileAreaError, match=r"^'gone.syx' not found in the files folders .*/files, .*/library: "):
        area.resolve_read("gone.syx")
    with pytest.raises(FileAreaError, match="is outside"):
        area.resolve_read(".")  # the folder itself is no file in it
    for name in ("~root/x.syx", "~no-such-user/x.syx"):  # another user's ~ is a name like any other, not a lookup
        with pytest.raises(FileAreaError, match=f"^'{name}' not found in the files folders"):
            area.resolve_read(name)


@pytest.mark.parametrize("path", ["/etc/passwd", "/etc/nothing-here", "../outside/secret.syx", "../outside/none.syx",
                                  "out/secret.syx", "out/none.syx", "loop", "~/x.syx", "../files", ""])
def test_escapes_are_refused_with_one_message(area: FileArea, path: str) -> None:
    folders = ", ".join(str(folder) for folder in area.folders)
    with pytest.raises(FileAreaError) as read:
        area.resolve_read(path)
    assert str(read.value) == (f"{path!r} is outside the files folders {folders}: over OSC the daemon reads files only "
                               f"there (give a name relative to it; start the daemon with --files-dir DIR for another folder)")
    with pytest.raises(FileAreaError) as write:
        area.resolve_write(path)
    assert str(write.value) == (f"{path!r} is outside the files folder {area.write_folder}: over OSC the daemon writes "
                                f"files only there (give a name relative to it; start the daemon with --files-dir DIR "
                                f"for another folder)")


def test_writes_go_to_the_first_folder_and_keep_foreign_files(area: FileArea, tmp_path: Path) -> None:
    files, library = area.folders
    assert area.resolve_write("new.mid") == files / "new.mid"
    assert area.resolve_write("mine.syx") == files / "mine.syx"  # a file the daemon writes
    with pytest.raises(FileAreaError, match="outside the files folder"):
        area.resolve_write(str(library / "bank.syx"))
    (files / "notes.syx").write_text("text")
    with pytest.raises(FileAreaError, match=r"^'notes.syx' exists in .*/files and is not a DX7 .syx/.mid file: not "
                                            r"replaced \(.*start it with --overwrite\)$"):
        area.resolve_write("notes.syx")
    assert FileArea(area.folders, overwrite=True).resolve_write("notes.syx") == files / "notes.syx"


def test_what_counts_as_a_file_the_daemon_writes(tmp_path: Path) -> None:
    voice = encode_voice_dump(Voice.init())
    write_syx(tmp_path / "voice.syx", [voice])
    write_syx(tmp_path / "bank.SYX", [encode_bank_dump([Voice.init()] * 32)])
    write_midi_file(tmp_path / "dump.mid", [voice])
    write_midi_file(tmp_path / "params.mid", [encode_param_change(134, 3)])  # SysEx, but not a dump
    write_syx(tmp_path / "voice.txt", [voice])
    mido.MidiFile(tracks=[mido.MidiTrack([mido.Message("note_on")])]).save(tmp_path / "song.mid")
    (tmp_path / "empty.syx").write_bytes(b"")
    (tmp_path / "folder.syx").mkdir()
    ours = {path.name for path in tmp_path.iterdir() if holds_dx7_dumps(path)}
    assert ours == {"voice.syx", "bank.SYX", "dump.mid"}


ROLAND_GS_RESET = bytes.fromhex("f0 41 10 42 12 40 00 7f 00 41 f7")


def _song_with_a_dump(notes: int) -> mido.MidiFile:
    """A type-0 song: a DX7 voice dump, then ``notes`` notes (a DAW project's bounce, not a dump file)."""
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000),
                            mido.Message("sysex", data=encode_voice_dump(Voice.init())[1:-1])])
    for step in range(notes):
        track += [mido.Message("note_on", note=48 + step % 24, velocity=90, time=0),
                  mido.Message("note_off", note=48 + step % 24, time=120)]
    track.append(mido.MetaMessage("end_of_track"))
    return mido.MidiFile(type=0, tracks=[track])


def test_a_file_with_anything_besides_dx7_dumps_is_not_the_daemons(tmp_path: Path) -> None:
    voice, bank = encode_voice_dump(Voice.init()), encode_bank_dump([Voice.init()] * 32)
    (tmp_path / "text.syx").write_bytes((b"notes on my patches, not SysEx\n" * 200)[:4096])  # the size of a raw bank
    (tmp_path / "roland.syx").write_bytes(voice + ROLAND_GS_RESET)
    _song_with_a_dump(400).save(tmp_path / "song.mid")
    (tmp_path / "raw.syx").write_bytes(bank[6:-2])  # a raw 4096-byte bank: readable, but not what the daemon writes
    (tmp_path / "params.syx").write_bytes(encode_param_change(134, 3))
    (tmp_path / "junk.syx").write_bytes(voice + b"\n")
    (tmp_path / "cut.syx").write_bytes(voice + bank[:100])
    (tmp_path / "stale.syx").write_bytes(voice[:-2] + bytes([(voice[-2] + 1) & 0x7F]) + voice[-1:])  # a wrong checksum
    write_midi_file(tmp_path / "mixed.mid", [voice, ROLAND_GS_RESET])
    write_midi_file(tmp_path / "tail.mid", [voice])
    (tmp_path / "tail.mid").write_bytes((tmp_path / "tail.mid").read_bytes() + b"MTrk")
    (tmp_path / "big.syx").write_bytes(voice * (MAX_DUMP_FILE_BYTES // len(voice) + 1))
    assert [path.name for path in sorted(tmp_path.iterdir()) if holds_dx7_dumps(path)] == []
    area = FileArea.open([tmp_path])
    for path in sorted(tmp_path.iterdir()):
        kept = path.read_bytes()
        with pytest.raises(FileAreaError) as refused:
            area.resolve_write(path.name)
        assert str(refused.value) == (f"{path.name!r} exists in {tmp_path} and is not a DX7 .syx/.mid file: not replaced "
                                      f"(the daemon replaces only voice and bank dumps; choose another name, or start it "
                                      f"with --overwrite)")
        assert path.read_bytes() == kept
        assert FileArea(area.folders, overwrite=True).resolve_write(path.name) == path


def test_files_of_dx7_dumps_stay_replaceable(tmp_path: Path, brass_voices: list[Voice]) -> None:
    voices = [encode_voice_dump(voice, channel=3) for voice in brass_voices[:5]]
    write_syx(tmp_path / "voices.syx", voices)
    write_syx(tmp_path / "banks.syx", [encode_bank_dump(brass_voices), encode_bank_dump([Voice.init()] * 32)])
    write_midi_file(tmp_path / "voices.mid", voices)
    write_midi_file(tmp_path / "bank.midi", [encode_bank_dump(brass_voices)], interval_s=0.0)
    area = FileArea.open([tmp_path])
    for path in tmp_path.iterdir():
        assert holds_dx7_dumps(path), path.name
        assert area.resolve_write(path.name) == path
