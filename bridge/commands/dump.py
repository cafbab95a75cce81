"""``dexbridge dump``: write voices of .syx files (or bank slots) as a voice dump, several voice dumps
or one 32-voice bank, into .syx and/or .mid files, atomically (temp file + rename)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from bridge.commands.argtypes import midi_channel
from bridge.commands.inputs import check_output
from bridge.commands.voices import BUNDLED_BANKS, bundled_bank_path, read_voices_warning, shown_name
from bridge.midi.sysex import encode_bank_dump, encode_voice_dump
from bridge.midi.syxfile import MIDI_SUFFIXES, SYX_SUFFIXES, FileVoice, write_file
from models.errors import SysexEncodeError, VoiceIndexError
from models.packing import BANK_VOICES
from models.voice import Voice

BANK_FILLER = "INIT VOICE"


def dump_messages(voices: Sequence[Voice], *, bank: bool, channel: int = 0) -> list[bytes]:
    """The SysEx to write: one 163-byte voice dump per voice, or one 4104-byte bank.

    Args:
        voices: the voices, in order.
        bank: pack them into one bank dump, padded with INIT VOICE up to 32.
        channel: MIDI channel 0-15.

    Raises:
        SysexEncodeError: no voice, more than 32 for a bank, or a bad channel.
    """
    if not voices:
        raise SysexEncodeError("no voice to dump")
    if not bank:
        return [encode_voice_dump(voice, channel) for voice in voices]
    if len(voices) > BANK_VOICES:
        raise SysexEncodeError(f"{len(voices)} voices do not fit a 32-voice bank: pick 32 with --index, or drop --bank")
    padding = [Voice.init(BANK_FILLER)] * (BANK_VOICES - len(voices))
    return [encode_bank_dump([*voices, *padding], channel)]


def _selected(args: argparse.Namespace) -> list[FileVoice]:
    sources: list[Path] = [*args.files, *(bundled_bank_path(name) for name in args.bundled)]
    if not sources:
        raise VoiceIndexError("no voices: give .syx files or --bundled brass")
    found: list[FileVoice] = []
    for path in sources:
        found += read_voices_warning(path, args.strict).voices
    if not args.index:
        return found
    bad = [i for i in args.index if not 0 <= i < len(found)]
    if bad:
        raise VoiceIndexError(f"--index {bad[0]} out of range: the inputs hold {len(found)} voices (0..{len(found) - 1}), "
                          "numbered across the files in order, as `dexbridge voices` lists each")
    return [found[i] for i in args.index]


def dump(args: argparse.Namespace) -> int:
    """Write the selected voices to every ``--out`` file.

    Raises:
        SysexEncodeError: an output suffix other than .syx/.mid, or too many voices for a bank.
        VoiceIndexError: no input, or an ``--index`` outside the inputs' voices.
    """
    for out in args.out:
        if out.suffix.lower() not in (*SYX_SUFFIXES, *MIDI_SUFFIXES):
            raise SysexEncodeError(f"--out {out}: unknown suffix {out.suffix!r}, use .syx (SysEx) or .mid (MIDI file)")
        check_output(out, "--out")
    chosen = _selected(args)
    messages = dump_messages([item.voice for item in chosen], bank=args.bank, channel=args.channel - 1)
    for out in args.out:
        write_file(out, messages)
    what = "a 32-voice bank" if args.bank else f"{len(messages)} voice dump{'s' * (len(messages) > 1)}"
    names = ", ".join(shown_name(item.voice) for item in chosen[:4]) + (", ..." if len(chosen) > 4 else "")
    print(f"wrote {what} ({names}) on MIDI channel {args.channel} to {', '.join(map(str, args.out))}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``dump`` command."""
    parser = subparsers.add_parser(
        "dump", help="write voices as DX7 SysEx into .syx and/or .mid files (for a DAW, a librarian or a DX7)",
        description="Read voices from .syx files (bank dumps, voice dumps, raw 4096-byte banks) and write the chosen "
        "ones as single voice dumps (163 bytes each) or, with --bank, as one 32-voice bank (4104 bytes, padded with "
        "INIT VOICE). A .mid output is a Standard MIDI File whose SysEx events are spaced for a DIN cable. Files are "
        "written atomically: never half-written, even if interrupted.")
    parser.add_argument("files", nargs="*", type=Path, help=".syx input files, read in order")
    parser.add_argument("--bundled", action="append", default=[], choices=BUNDLED_BANKS,
                        help="also read a DX7 bank shipped with DawDreamer")
    parser.add_argument("--index", action="append", type=int, default=[],
                        help="0-based voice (slot) to write, repeatable, numbered across the inputs; default: all")
    parser.add_argument("--bank", action="store_true", help="write one 32-voice bank dump instead of voice dumps")
    parser.add_argument("--out", action="append", type=Path, required=True,
                        help="output file, repeatable: .syx (SysEx) or .mid (MIDI file)")
    parser.add_argument("--channel", type=midi_channel, default=1, help="MIDI channel 1-16 in the dumps (default 1)")
    parser.add_argument("--strict", action="store_true", help="refuse inputs with any problem, not just warn")
    parser.set_defaults(handler=dump)
