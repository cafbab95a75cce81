"""Reading and writing .syx and .mid files: real files in tmp_path, read back with mido."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import BinaryIO

import mido
import pytest

from bridge.atomicfile import atomic_write
from bridge.midi.sysex import (
    decode_sysex,
    encode_bank_dump,
    encode_dump_request,
    encode_param_change,
    encode_voice_dump,
)
from bridge.midi.syxfile import (
    read_syx_messages,
    read_syx_voices,
    write_bank_syx,
    write_file,
    write_midi_file,
    write_syx,
    write_voice_syx,
)
from models.errors import SysexDecodeError, SysexEncodeError
from models.voice import Voice

INIT = Voice.init()
LEAD = Voice.init("LEAD").replace({134: 4, 135: 7})


@pytest.fixture(scope="module")
def brass_bank(brass_path: Path) -> bytes:
    return brass_path.read_bytes()


@pytest.fixture(scope="module")
def brass_voices(brass_bank: bytes) -> tuple[Voice, ...]:
    return decode_sysex(brass_bank).voices


def _stale_checksum(bank: bytes) -> bytes:
    return bank[:-2] + bytes([(bank[-2] + 1) & 0x7F, 0xF7])


def test_multi_message_file_keeps_file_order(
    tmp_path: Path, brass_bank: bytes, brass_voices: tuple[Voice, ...]
) -> None:
    path = tmp_path / "mixed.syx"
    messages = [encode_voice_dump(INIT), brass_bank, encode_voice_dump(LEAD, channel=3)]
    write_syx(path, messages)
    assert path.read_bytes() == b"".join(messages)
    assert read_syx_messages(path) == messages
    contents = read_syx_voices(path)
    assert [v.voice for v in contents.voices] == [INIT, *brass_voices, LEAD]
    assert [v.slot for v in contents.voices] == list(range(34))
    assert contents.problems == []


def test_raw_headerless_bank(tmp_path: Path, brass_bank: bytes, brass_voices: tuple[Voice, ...]) -> None:
    path = tmp_path / "raw.syx"
    path.write_bytes(brass_bank[6:-2])
    contents = read_syx_voices(path)
    assert [v.voice for v in contents.voices] == list(brass_voices)
    assert contents.problems == []


def test_junk_between_messages_is_skipped_and_recorded(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "junk.syx"
    first, second = encode_voice_dump(INIT), encode_voice_dump(LEAD)
    path.write_bytes(b"hello" + first + b"\x01\x02\x90" + second + b"\x00")
    contents = read_syx_voices(path)
    assert [v.voice for v in contents.voices] == [INIT, LEAD]
    assert contents.problems == [
        "junk.syx offset 0: 5 bytes outside any complete SysEx skipped",
        f"junk.syx offset {5 + 163}: 3 bytes outside any complete SysEx skipped",
        f"junk.syx offset {5 + 163 + 3 + 163}: 1 bytes outside any complete SysEx skipped",
    ]
    with caplog.at_level(logging.WARNING, logger="bridge.midi.syxfile"):
        assert read_syx_messages(path) == [first, second]
    assert [r.getMessage() for r in caplog.records] == contents.problems
    with pytest.raises(SysexDecodeError, match="junk.syx offset 0: 5 bytes outside") as caught:
        read_syx_voices(path, strict=True)
    assert caught.value.field == "junk"


def test_truncated_message_and_non_voice_messages_are_recorded(tmp_path: Path) -> None:
    path = tmp_path / "cut.syx"
    cut = encode_voice_dump(INIT)[:90]
    write_syx(tmp_path / "parts.syx", [encode_dump_request("voice"), encode_voice_dump(LEAD)])
    path.write_bytes(cut + (tmp_path / "parts.syx").read_bytes() + encode_param_change(134, 3))
    contents = read_syx_voices(path)
    assert [v.voice for v in contents.voices] == [LEAD]
    assert contents.problems == [
        "cut.syx offset 0: 90 bytes outside any complete SysEx skipped "
        "(holds an F0 message cut short before its F7)",
        "cut.syx offset 90: DumpRequest is not a voice, skipped",
        f"cut.syx offset {90 + 5 + 163}: ParamChange is not a voice, skipped",
    ]


def test_undecodable_message_is_recorded_with_its_offset(tmp_path: Path) -> None:
    path = tmp_path / "bad.syx"
    wrong_length = encode_voice_dump(INIT)[:-3] + b"\x00\xf7"
    path.write_bytes(encode_voice_dump(LEAD) + wrong_length)
    contents = read_syx_voices(path)
    assert [v.voice for v in contents.voices] == [LEAD]
    assert contents.problems == ["bad.syx offset 163: a voice dump is 163 bytes, got 162"]


def test_wrong_checksum_lenient_loads_and_records_strict_raises(
    tmp_path: Path, brass_bank: bytes, brass_voices: tuple[Voice, ...]
) -> None:
    path = tmp_path / "stale.syx"
    path.write_bytes(encode_voice_dump(INIT) + _stale_checksum(brass_bank))
    contents = read_syx_voices(path)
    assert [v.voice for v in contents.voices] == [INIT, *brass_voices]
    computed = brass_bank[-2]
    assert contents.problems == [
        f"stale.syx offset 163: checksum 0x{(computed + 1) & 0x7F:02X}, computed 0x{computed:02X}: "
        "voices loaded anyway"
    ]
    with pytest.raises(SysexDecodeError, match="stale.syx offset 163: bank dump checksum") as caught:
        read_syx_voices(path, strict=True)
    assert (caught.value.field, caught.value.offset) == ("checksum", 163)


def test_clamped_values_are_reported_per_voice(tmp_path: Path, brass_bank: bytes) -> None:
    corrupt = bytearray(brass_bank[6:-2])
    corrupt[2 * 128 + 1] = 127  # voice 2, OP6 EG rate 2: 0..99
    path = tmp_path / "clamped.syx"
    path.write_bytes(bytes(corrupt))
    contents = read_syx_voices(path)
    assert [bool(v.report) for v in contents.voices] == [slot == 2 for slot in range(32)]
    assert str(contents.voices[2].report) == "param 1 OP6 EG RATE 2 = 127 -> 99"
    with pytest.raises(SysexDecodeError, match=r"clamped.syx \(raw bank\): bank voice 2 'BRASS 3   '"):
        read_syx_voices(path, strict=True)


@pytest.mark.parametrize(
    ("content", "text"),
    [
        (b"", "empty.syx is empty"),
        (b"just some text\n", "empty.syx: no DX7 voice in 15 bytes"),
        (encode_dump_request("bank"), "empty.syx: no DX7 voice in 5 bytes"),
        (bytes([0x80]) * 4096, r"empty.syx \(raw bank\): byte 0x80 at offset 0"),
    ],
)
def test_files_without_voices_are_refused(tmp_path: Path, content: bytes, text: str) -> None:
    path = tmp_path / "empty.syx"
    path.write_bytes(content)
    with pytest.raises(SysexDecodeError, match=text):
        read_syx_voices(path)


def test_missing_file_and_message_free_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_syx_voices(tmp_path / "absent.syx")
    text_file = tmp_path / "notes.syx"
    text_file.write_bytes(b"not sysex")
    with pytest.raises(SysexDecodeError, match="notes.syx holds no complete SysEx message"):
        read_syx_messages(text_file)


def test_midi_file_carries_each_sysex_spaced_for_a_din_cable(tmp_path: Path, brass_bank: bytes) -> None:
    path = tmp_path / "dump.mid"
    messages = [brass_bank, encode_voice_dump(LEAD), encode_param_change(155, 62)]
    write_midi_file(path, messages, interval_s=0.25)
    midi = mido.MidiFile(path)
    assert midi.type == 0 and len(midi.tracks) == 1
    events = list(midi.tracks[0])
    assert events[0].is_meta and events[0].type == "set_tempo"
    sysex = [event for event in events if event.type == "sysex"]
    assert [bytes(event.bytes()) for event in sysex] == messages
    seconds = [mido.tick2second(event.time, midi.ticks_per_beat, events[0].tempo) for event in sysex]
    assert seconds[0] == 0
    assert seconds[1] == pytest.approx(4104 / 3125 + 0.25, abs=0.002)  # the bank takes 1.31 s on DIN
    assert seconds[2] == pytest.approx(163 / 3125 + 0.25, abs=0.002)


def test_write_file_chooses_the_format_by_suffix(tmp_path: Path) -> None:
    message = encode_voice_dump(LEAD)
    write_file(tmp_path / "a.syx", [message])
    write_file(tmp_path / "b.MID", [message])
    assert (tmp_path / "a.syx").read_bytes() == message
    assert [bytes(m.bytes()) for m in mido.MidiFile(tmp_path / "b.MID") if m.type == "sysex"] == [message]
    with pytest.raises(SysexEncodeError, match="cannot write c.txt: unknown suffix '.txt', use .syx or .mid"):
        write_file(tmp_path / "c.txt", [message])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.syx", "b.MID"]


def test_voice_and_bank_convenience_writers(tmp_path: Path, brass_voices: tuple[Voice, ...]) -> None:
    write_voice_syx(tmp_path / "v.syx", LEAD, channel=2)
    write_bank_syx(tmp_path / "b.syx", brass_voices, channel=2)
    assert (tmp_path / "v.syx").read_bytes() == encode_voice_dump(LEAD, channel=2)
    assert (tmp_path / "b.syx").read_bytes() == encode_bank_dump(brass_voices, channel=2)


@pytest.mark.parametrize(
    ("messages", "text"),
    [
        ([], "no SysEx message to write"),
        ([b"\xf0\x43\x10"], r"message 0 \(3 bytes, starting f0 43 10\) is not one complete SysEx message"),
        ([encode_dump_request("voice"), b"\xf0\x43\x90\xf7"], "message 1"),
    ],
)
def test_writers_refuse_malformed_messages(tmp_path: Path, messages: list[bytes], text: str) -> None:
    for name in ("x.syx", "x.mid"):
        with pytest.raises(SysexEncodeError, match=text):
            write_file(tmp_path / name, messages)
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_leaves_the_target_untouched_when_the_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "bank.syx"
    target.write_bytes(b"previous content")

    def half_then_fail(file: BinaryIO) -> None:
        file.write(b"\xf0\x43 half a message")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"previous content"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_write_replaces_the_target_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "voice.syx"
    target.write_bytes(b"old")
    write_voice_syx(target, LEAD)
    assert target.read_bytes() == encode_voice_dump(LEAD)
    assert list(tmp_path.iterdir()) == [target]
    umask = os.umask(0o022)
    os.umask(umask)
    assert (target.stat().st_mode & 0o777) == 0o666 & ~umask


def test_write_into_a_missing_directory_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_voice_syx(tmp_path / "nowhere" / "v.syx", LEAD)
    assert list(tmp_path.iterdir()) == []
