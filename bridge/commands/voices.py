"""Librarian commands: ``dexbridge voices`` lists the voices of a .syx file, ``dexbridge voice``
extracts one as a single voice dump (.syx) or a MIDI file carrying it (.mid)."""

from __future__ import annotations

import argparse
import json
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

from bridge.commands.argtypes import midi_channel
from bridge.commands.inputs import check_input, check_output
from bridge.midi.sysex import encode_voice_dump
from bridge.midi.syxfile import FileVoice, SyxContents, read_syx_voices, write_file
from models.errors import VoiceIndexError
from models.params import BY_NAME, OCTAVES, TRANSPOSE_CENTRE, display_value
from models.voice import Voice

BUNDLED_BANKS = ("brass",)
NO_NAME = "(no name)"
"""What a voice whose name is blank is listed as."""
_LISTED = ("algorithm", "feedback", "transpose", "lfo_wave")


def bundled_bank_path(name: str) -> Path:
    """Path of a DX7 bank shipped in DawDreamer's wheel (``faustlibraries/dx7presets``)."""
    return Path(str(files("dawdreamer") / "faustlibraries" / "dx7presets" / f"{name}.syx"))


def shown_name(voice: Voice) -> str:
    """The voice's name as listed: stripped, or :data:`NO_NAME` when blank."""
    return voice.name.strip() or NO_NAME


def voice_summary(item: FileVoice) -> dict[str, Any]:
    """The listing row of one voice: slot, name, and values as the synth shows them (algorithm 1-32,
    transpose in semitones and as a note); ``vced`` holds the stored values of the same parameters."""
    voice = item.voice
    return {
        "index": item.slot,
        "name": voice.name.strip(),
        "algorithm": display_value(BY_NAME["algorithm"], voice["algorithm"]),
        "feedback": voice["feedback"],
        "transpose": voice["transpose"] - TRANSPOSE_CENTRE,
        "transpose_note": display_value(BY_NAME["transpose"], voice["transpose"]),
        "lfo_wave": display_value(BY_NAME["lfo_wave"], voice["lfo_wave"]),
        "vced": {name: voice[name] for name in _LISTED},
        "clamped": [str(clamp) for clamp in item.report.clamps],
    }


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", type=Path, help=".syx file: bank/voice dumps or a raw 4096-byte bank")
    source.add_argument("--bundled", choices=BUNDLED_BANKS, help="a DX7 bank shipped with DawDreamer, not FILE")
    parser.add_argument("--strict", action="store_true", help="refuse a file with any problem, not just list it")


def read_voices_warning(path: Path, strict: bool) -> SyxContents:
    """The voices of a .syx file; its problems (unless ``strict`` refuses them) go to stderr as warnings.

    Raises:
        InputFileError: the file is missing, a folder or unreadable.
        SysexDecodeError: it holds no DX7 voice (or, with ``strict``, any problem).
    """
    check_input(path, ".syx file", "DX7 .syx (SysEx)")
    contents = read_syx_voices(path, strict=strict)
    for problem in contents.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return contents


def _read_source(args: argparse.Namespace) -> tuple[Path, SyxContents]:
    path = bundled_bank_path(args.bundled) if args.bundled else args.file
    return path, read_voices_warning(path, args.strict)


def list_voices(args: argparse.Namespace) -> int:
    """``dexbridge voices``: print the voices of a file as a table or, with ``--json``, a JSON list."""
    _, contents = _read_source(args)
    rows = [voice_summary(item) for item in contents.voices]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'#':>5}  {'NAME':<10}  {'ALG':>3}  {'FB':>2}  {'TRANSPOSE':<9}  {'LFO':<6}  CLAMPED")
    for row in rows:
        transpose = f"{row['transpose_note']} ({row['transpose']:+d})"
        clamped = f"{len(row['clamped'])} values" if row["clamped"] else "-"
        print(f"{row['index']:>5}  {row['name'] or NO_NAME:<10}  {row['algorithm']:>3}  {row['feedback']:>2}  "
              f"{transpose:<9}  {row['lfo_wave']:<6}  {clamped}")
    print(f"ALG = algorithm 1-32; TRANSPOSE = the note the middle C key plays and its shift in semitones ({OCTAVES})")
    return 0


def extract_voice(args: argparse.Namespace) -> int:
    """``dexbridge voice``: write one voice as a single voice dump into a .syx or .mid file.

    Raises:
        VoiceIndexError: ``--index`` is not a voice of the file.
    """
    check_output(args.out, "--out")
    path, contents = _read_source(args)
    count = len(contents.voices)
    if not 0 <= args.index < count:
        message = f"--index {args.index} out of range: {path.name} holds {count} voices (0..{count - 1})"
        raise VoiceIndexError(message)
    chosen = contents.voices[args.index]
    write_file(args.out, [encode_voice_dump(chosen.voice, channel=args.channel - 1)])
    print(f"wrote voice {chosen.slot} '{shown_name(chosen.voice)}' (MIDI channel {args.channel}) to {args.out}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``voices`` and ``voice`` commands."""
    voices = subparsers.add_parser("voices", help="list the voices of a DX7 .syx file")
    _add_source_arguments(voices)
    voices.add_argument("--json", action="store_true", help="print a JSON list of objects instead of a table")
    voices.set_defaults(handler=list_voices)

    voice = subparsers.add_parser("voice", help="extract one voice as a single voice dump (.syx or .mid)")
    _add_source_arguments(voice)
    voice.add_argument("--index", type=int, required=True, help="0-based voice index, as `dexbridge voices` lists")
    voice.add_argument("--out", type=Path, required=True, help="output file: .syx (SysEx) or .mid (MIDI file)")
    voice.add_argument("--channel", type=midi_channel, default=1, help="MIDI channel 1-16 (default 1)")
    voice.set_defaults(handler=extract_voice)
