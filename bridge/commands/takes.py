"""``dexbridge infer --take FILE[:NOTE[:VELOCITY]] ...``: several recordings of one sound -> one voice.

Parsing takes (``FILE:NOTE:VELOCITY``, or a folder whose ``manifest.json`` lists them) happens
here; the inference is :meth:`engine.runtime.Engine.infer_takes`.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from bridge.commands.inputs import read_audio, require_file
from models.errors import AudioFileError

DEFAULT_VELOCITY = 100


@dataclass(frozen=True)
class TakeSpec:
    """A take as the command line names it: a file, its note (None: from its pitch) and velocity."""

    path: Path
    note: int | None
    velocity: int


def parse_take(text: str) -> list[TakeSpec]:
    """``FILE``, ``FILE:NOTE`` or ``FILE:NOTE:VELOCITY`` (an argparse type), or a folder whose
    ``manifest.json`` lists ``{"file", "note", "velocity"}`` entries.

    Raises:
        argparse.ArgumentTypeError: a note or velocity that is not a whole number in range.
    """
    folder = Path(text)
    if folder.is_dir():
        return _manifest(folder)
    parts = text.rsplit(":", 2)
    while len(parts) > 1 and not parts[-1].lstrip("-").isdigit():  # a ':' inside the file name
        parts = [":".join(parts[:2]), *parts[2:]]
    path, numbers = Path(parts[0]), parts[1:]
    values = [int(n) for n in numbers]  # digits only (a part that is not a number belongs to the file name)
    note = values[0] if values else None
    velocity = values[1] if len(values) > 1 else DEFAULT_VELOCITY
    if note is not None and not 0 <= note <= 127:
        raise argparse.ArgumentTypeError(f"{text!r}: note {note} out of range 0..127 (60 = middle C)")
    if not 1 <= velocity <= 127:
        raise argparse.ArgumentTypeError(f"{text!r}: velocity {velocity} out of range 1..127")
    return [TakeSpec(path, note, velocity)]


def _manifest(folder: Path) -> list[TakeSpec]:
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        raise argparse.ArgumentTypeError(f"{folder} is a folder without manifest.json: give FILE:NOTE:VELOCITY takes, "
                                         'or a manifest.json with {"takes": [{"file", "note", "velocity"}, ...]}')
    try:
        entries = json.loads(manifest.read_text())
        entries = entries.get("takes", entries.get("notes")) if isinstance(entries, dict) else entries
        return [TakeSpec(folder / item["file"], item.get("note"), int(item.get("velocity") or DEFAULT_VELOCITY))
                for item in entries]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise argparse.ArgumentTypeError(f"{manifest}: not a list of takes ({type(error).__name__}: {error}); "
                                         'expected {"takes": [{"file": "soft.wav", "note": 60, "velocity": 40}, ...]}') from None


def read_takes(specs: list[TakeSpec]) -> list[object]:
    """The takes' audio as :class:`engine.takes.Take` objects, every file checked first.

    Raises:
        AudioFileError: a missing or undecodable file.
    """
    from engine.takes import Take

    if not specs:
        raise AudioFileError("no takes: give --take FILE:NOTE:VELOCITY at least once")
    for spec in specs:
        require_file(spec.path)
    takes = []
    for spec in specs:
        audio, rate = read_audio(spec.path)
        takes.append(Take(audio, rate, spec.note, spec.velocity))
    return takes
