"""Render single notes of sampled General MIDI instruments: an out-of-domain pitch evaluation set.

Each note is played through the ``fluidsynth`` command line (reverb and chorus off) from a GM
SoundFont, held 3 s of a 4 s window, mixed to mono at 22 050 Hz and normalised to a -6 dBFS
peak. ``manifest.json`` lists every file with its GM program, MIDI note, expected f0 (``null``
for the unpitched drums) and category.

    python scripts/render_instruments.py --out runs/instruments [--font PATH] [--limit N] [--only a,b]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import mido
import numpy as np
import soundfile

SAMPLE_RATE = 22050
NOTE_SECONDS = 3.0
WINDOW_SECONDS = 4.0
PEAK_DBFS = -6.0
GAIN = 0.4
FONTS = (  # (path, Debian package)
    ("/usr/share/sounds/sf2/TimGM6mb.sf2", "timgm6mb-soundfont"),
    ("/usr/share/sounds/sf2/MuseScore_General.sf2", "musescore-general-soundfont-small"),
    ("/usr/share/sounds/sf3/MuseScore_General.sf3", "musescore-general-soundfont-small"),
    ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "fluid-soundfont-gm"),
)
DRUM_CHANNEL = 9  # GM channel 10

# (name, GM program 0-127, MIDI note, category); program None = GM drum kit, channel 10.
NOTES: tuple[tuple[str, int | None, int, str], ...] = (
    ("piano", 0, 36, "keys"), ("piano", 0, 69, "keys"), ("piano", 0, 84, "keys"),
    ("electric_piano", 4, 52, "keys"), ("harpsichord", 6, 65, "keys"),
    ("drawbar_organ", 16, 48, "organ"), ("church_organ", 19, 43, "organ"),
    ("nylon_guitar", 24, 57, "guitar"), ("steel_guitar", 25, 62, "guitar"), ("clean_guitar", 27, 55, "guitar"),
    ("acoustic_bass", 32, 36, "bass"), ("finger_bass", 33, 43, "bass"),
    ("violin", 40, 69, "strings"), ("violin", 40, 76, "strings"),
    ("cello", 42, 48, "strings"), ("cello", 42, 43, "strings"), ("string_ensemble", 48, 60, "strings"),
    ("trumpet", 56, 60, "brass"), ("trumpet", 56, 67, "brass"), ("trombone", 57, 46, "brass"),
    ("french_horn", 60, 53, "brass"),
    ("alto_sax", 65, 61, "reed"), ("tenor_sax", 66, 58, "reed"), ("oboe", 68, 74, "reed"),
    ("clarinet", 71, 60, "reed"), ("clarinet", 71, 66, "reed"),
    ("flute", 73, 72, "pipe"), ("flute", 73, 84, "pipe"),
    ("vibraphone", 11, 72, "mallet"), ("marimba", 12, 60, "mallet"), ("glockenspiel", 9, 84, "mallet"),
    ("square_lead", 80, 72, "synth"), ("saw_lead", 81, 57, "synth"),
    ("warm_pad", 89, 48, "synth"), ("new_age_pad", 88, 64, "synth"),
    ("bass_drum", None, 36, "drum"), ("snare_drum", None, 38, "drum"),
    ("closed_hihat", None, 42, "drum"), ("crash_cymbal", None, 49, "drum"),
)
NOTE_NAMES = ("C", "Cs", "D", "Ds", "E", "F", "Fs", "G", "Gs", "A", "As", "B")


def note_name(note: int) -> str:
    """Scientific pitch name of a MIDI note, sharps as 's' (61 -> 'Cs4')."""
    return f"{NOTE_NAMES[note % 12]}{note // 12 - 1}"


def expected_f0(note: int) -> float:
    """Equal-tempered f0 of a MIDI note (A4 = 440 Hz)."""
    return 440.0 * 2.0 ** ((note - 69) / 12)


def find_font(path: str | None) -> Path:
    """The SoundFont to use: ``path`` if given, else the first installed Debian GM font."""
    if path is not None:
        if not Path(path).is_file():
            sys.exit(f"error: SoundFont {path} does not exist")
        return Path(path)
    for candidate, _ in FONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    sys.exit("error: no General MIDI SoundFont found: apt-get install -y timgm6mb-soundfont "
             "(or musescore-general-soundfont-small), or pass --font PATH")


def write_midi(path: Path, program: int | None, note: int) -> None:
    """A one-note MIDI file: the note held NOTE_SECONDS, the track ending at WINDOW_SECONDS."""
    midi = mido.MidiFile(ticks_per_beat=480)  # default tempo 120 bpm: 960 ticks per second
    track = mido.MidiTrack()
    midi.tracks.append(track)
    channel = DRUM_CHANNEL if program is None else 0
    if program is not None:
        track.append(mido.Message("program_change", channel=channel, program=program, time=0))
    track.append(mido.Message("note_on", channel=channel, note=note, velocity=100, time=0))
    track.append(mido.Message("note_off", channel=channel, note=note, velocity=0, time=round(NOTE_SECONDS * 960)))
    track.append(mido.MetaMessage("end_of_track", time=round((WINDOW_SECONDS - NOTE_SECONDS) * 960)))
    midi.save(path)


def fluidsynth(font: Path, mid: Path, what: str) -> np.ndarray:
    """``mid`` played by the fluidsynth command line with ``font`` (reverb and chorus off): mono at SAMPLE_RATE."""
    wav = mid.with_suffix(".wav")
    command = ["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", str(GAIN), "-r", str(SAMPLE_RATE),
               "-O", "float", "-F", str(wav), str(font), str(mid)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not wav.is_file():
        raise RuntimeError(f"fluidsynth failed on {what}: {result.stderr.strip()[-400:]}")
    audio, rate = soundfile.read(wav, dtype="float32", always_2d=True)
    if rate != SAMPLE_RATE:
        raise RuntimeError(f"fluidsynth wrote {rate} Hz, asked for {SAMPLE_RATE} Hz")
    return audio.mean(axis=1)


def render_note(font: Path, program: int | None, note: int, workdir: Path) -> np.ndarray:
    """Mono float32 audio of one note, WINDOW_SECONDS long, peak at PEAK_DBFS."""
    mid = workdir / "note.mid"
    write_midi(mid, program, note)
    mono = fluidsynth(font, mid, f"program {program} note {note}")
    samples = round(WINDOW_SECONDS * SAMPLE_RATE)
    mono = np.pad(mono[:samples], (0, max(0, samples - mono.size)))
    peak = float(np.abs(mono).max())
    if peak <= 0.0:
        raise RuntimeError(f"fluidsynth rendered silence for program {program} note {note}: check the SoundFont")
    return (mono * (10.0 ** (PEAK_DBFS / 20.0) / peak)).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    """Render the set; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder (created)")
    parser.add_argument("--font", help="General MIDI SoundFont (.sf2/.sf3); default: an installed Debian one")
    parser.add_argument("--limit", type=int, help="render only the first N notes")
    parser.add_argument("--only", help="render only these instruments (comma-separated names, e.g. piano,snare_drum)")
    args = parser.parse_args(argv)
    if shutil.which("fluidsynth") is None:
        sys.exit("error: the fluidsynth command is not installed: apt-get install -y fluidsynth")
    font = find_font(args.font)
    notes = NOTES
    if args.only:
        wanted = set(args.only.split(","))
        unknown = sorted(wanted - {name for name, *_ in NOTES})
        if unknown:
            sys.exit(f"error: unknown instrument(s) {', '.join(unknown)}; choose from {', '.join(sorted({n for n, *_ in NOTES}))}")
        notes = tuple(item for item in NOTES if item[0] in wanted)
    notes = notes[: args.limit] if args.limit is not None else notes
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = []
    print(f"rendering {len(notes)} notes with {font}")
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, program, note, category) in enumerate(notes, 1):
            pitched = program is not None
            file = f"{name}_{note_name(note)}_{note}.wav" if pitched else f"{name}_{note}.wav"
            soundfile.write(args.out / file, render_note(font, program, note, Path(tmp)), SAMPLE_RATE, subtype="FLOAT")
            manifest.append({"file": file, "program": program, "note": note,
                             "f0_hz": round(expected_f0(note), 3) if pitched else None, "category": category})
            print(f"[{i:2d}/{len(notes)}] {file}")
    (args.out / "manifest.json").write_text(json.dumps({"font": str(font), "sample_rate": SAMPLE_RATE,
                                                        "notes": manifest}, indent=1) + "\n")
    print(f"wrote {len(manifest)} files and manifest.json to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
