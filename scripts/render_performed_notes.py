"""Render performed notes: sung, bowed and blown with vibrato, glides into the note, breathy onsets.

Three sources, one folder, one ``manifest.json`` (as ``scripts/render_instruments.py`` writes, plus each
note's ``source`` and, where known, its vibrato):

- ``gm``: General MIDI voices and bowed/blown instruments (choir aahs, voice oohs, synth voice, violin,
  cello, flute, trumpet, saxes, oboe, clarinet) through the ``fluidsynth`` command line from a GM
  SoundFont, with the mod wheel (CC 1) up from the start: the SoundFont's own vibrato (FluidSynth's
  default modulator: up to 50 cents of pitch LFO); expected f0 = the MIDI note's;
- ``synthetic``: numpy tones of known centre pitch (a harmonic tone with a formant filter, or a
  source-filter vowel whose formants are stronger than its fundamental) with sinusoidal vibrato of
  known depth and rate, slow seeded pitch drift (jitter), a glide into the note or a breathy onset;
- ``espeak``: espeak-ng vowels (male and female voices at several pitches), when espeak-ng is
  installed; their intonation moves, so the expected f0 is pYIN's median over the voiced frames.

Every note is mono, 22 050 Hz, 4 s (a 3 s note), peak -6 dBFS. Seeded: the same command writes the
same set.

    python scripts/render_performed_notes.py --out runs/performed [--font PATH] [--only gm,synthetic] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import librosa
import mido
import numpy as np
import soundfile
from render_instruments import NOTE_SECONDS, PEAK_DBFS, SAMPLE_RATE, WINDOW_SECONDS, expected_f0, find_font, fluidsynth, note_name
from scipy.signal import lfilter

SOURCES = ("gm", "synthetic", "espeak")
MOD_WHEEL = 127  # CC 1, full: FluidSynth's default modulator gives 50 cents of vibrato
TICKS_PER_SECOND = 960  # 480 ticks a beat at the default 120 bpm
SOUNDING_DB = 30.0

# (name, GM program 0-127, MIDI note, category)
GM_NOTES: tuple[tuple[str, int, int, str], ...] = (
    ("choir_aahs", 52, 57, "voice"), ("choir_aahs", 52, 64, "voice"), ("choir_aahs", 52, 69, "voice"),
    ("voice_oohs", 53, 60, "voice"), ("voice_oohs", 53, 67, "voice"),
    ("synth_voice", 54, 55, "voice"), ("synth_voice", 54, 64, "voice"),
    ("violin", 40, 67, "strings"), ("violin", 40, 76, "strings"), ("violin", 40, 81, "strings"),
    ("cello", 42, 43, "strings"), ("cello", 42, 50, "strings"), ("cello", 42, 57, "strings"),
    ("flute", 73, 72, "pipe"), ("flute", 73, 79, "pipe"),
    ("trumpet", 56, 62, "brass"), ("trumpet", 56, 70, "brass"),
    ("alto_sax", 65, 61, "reed"), ("alto_sax", 65, 68, "reed"), ("tenor_sax", 66, 55, "reed"),
    ("oboe", 68, 69, "reed"), ("oboe", 68, 76, "reed"), ("clarinet", 71, 62, "reed"),
)

# (name, f0 Hz, timbre, vibrato +-cents, vibrato Hz, glide seconds, glide cents, breath)
SYNTHETIC: tuple[tuple[str, float, str, float, float, float, float, bool], ...] = (
    ("tone_vib25", 220.0, "tone", 25.0, 5.5, 0.0, 0.0, False),
    ("tone_vib50", 220.0, "tone", 50.0, 5.5, 0.0, 0.0, False),
    ("tone_vib100", 220.0, "tone", 100.0, 5.5, 0.0, 0.0, False),
    ("tone_vib50_3hz", 130.8, "tone", 50.0, 3.0, 0.0, 0.0, False),
    ("tone_vib80_8hz", 523.3, "tone", 80.0, 8.0, 0.0, 0.0, False),
    ("tone_vib100_4hz", 98.0, "tone", 100.0, 4.0, 0.0, 0.0, False),
    ("tone_glide150", 246.9, "tone", 0.0, 0.0, 0.15, -300.0, False),
    ("tone_glide300_vib40", 392.0, "tone", 40.0, 6.0, 0.3, -200.0, False),
    ("tone_glide150_vib100", 174.6, "tone", 100.0, 5.5, 0.15, 200.0, False),
    ("tone_breath_vib60", 293.7, "tone", 60.0, 5.0, 0.0, 0.0, True),
    ("vowel_a_vib50", 110.0, "a", 50.0, 5.5, 0.0, 0.0, False),
    ("vowel_a_vib100", 146.8, "a", 100.0, 6.0, 0.1, -150.0, False),
    ("vowel_i_vib80", 220.0, "i", 80.0, 5.0, 0.0, 0.0, True),
    ("vowel_u_vib40", 196.0, "u", 40.0, 4.5, 0.0, 0.0, False),
    ("vowel_o_vib70", 329.6, "o", 70.0, 6.5, 0.2, -250.0, True),
    ("vowel_e_vib100", 440.0, "e", 100.0, 5.5, 0.0, 0.0, False),
    ("vowel_a_vib30", 82.4, "a", 30.0, 5.0, 0.0, 0.0, True),
    ("vowel_i_vib60", 587.3, "i", 60.0, 7.0, 0.15, -200.0, False),
)
FORMANTS = {  # vowel -> (formant Hz, bandwidth Hz, gain) x 3 (a bass-baritone's, roughly)
    "a": ((700, 110, 1.0), (1150, 120, 0.6), (2600, 160, 0.3)),
    "e": ((450, 80, 1.0), (1900, 120, 0.5), (2600, 150, 0.3)),
    "i": ((300, 60, 1.0), (2250, 120, 0.4), (3000, 200, 0.3)),
    "o": ((450, 80, 1.0), (800, 90, 0.7), (2800, 160, 0.2)),
    "u": ((330, 60, 1.0), (700, 80, 0.4), (2400, 160, 0.1)),
    "tone": ((1200, 600, 1.0),),
}

# (name, espeak-ng voice, pitch 0-99, phoneme)
ESPEAK: tuple[tuple[str, str, int, str], ...] = (
    ("espeak_m_a", "en+m3", 40, "A:"), ("espeak_m_i", "en+m1", 60, "i:"), ("espeak_m_o", "en+m7", 25, "O:"),
    ("espeak_f_a", "en+f3", 50, "A:"), ("espeak_f_u", "en+f2", 70, "u:"), ("espeak_f_e", "en+f4", 35, "3:"),
)


def _normalised(audio: np.ndarray) -> np.ndarray:
    """``audio`` cut or zero-padded to WINDOW_SECONDS, peak at PEAK_DBFS, float32."""
    samples = round(WINDOW_SECONDS * SAMPLE_RATE)
    audio = np.pad(audio[:samples], (0, max(0, samples - audio.size)))
    peak = float(np.abs(audio).max())
    if peak <= 0.0:
        raise RuntimeError("rendered silence")
    return (audio * (10.0 ** (PEAK_DBFS / 20.0) / peak)).astype(np.float32)


def gm_note(font: Path, program: int, note: int, workdir: Path) -> np.ndarray:
    """One GM note with the mod wheel up, through the fluidsynth command line (reverb and chorus off)."""
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.Message("program_change", program=program, time=0))
    track.append(mido.Message("control_change", control=1, value=MOD_WHEEL, time=0))
    track.append(mido.Message("note_on", note=note, velocity=100, time=0))
    track.append(mido.Message("note_off", note=note, velocity=0, time=round(NOTE_SECONDS * TICKS_PER_SECOND)))
    track.append(mido.MetaMessage("end_of_track", time=round((WINDOW_SECONDS - NOTE_SECONDS) * TICKS_PER_SECOND)))
    mid = workdir / "note.mid"
    midi.save(mid)
    return _normalised(fluidsynth(font, mid, f"program {program} note {note}").astype(np.float64))


def pitch_track(f0: float, vibrato_cents: float, vibrato_hz: float, glide_seconds: float, glide_cents: float,
                rng: np.random.Generator) -> np.ndarray:
    """Instantaneous f0 (Hz) per sample over NOTE_SECONDS: a glide from ``glide_cents`` away into the
    centre, sinusoidal vibrato fading in over 0.3 s, and +-5 cents of slow drift."""
    t = np.arange(round(NOTE_SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    glide = glide_cents * np.clip(1.0 - t / glide_seconds, 0.0, 1.0) ** 2 if glide_seconds > 0 else 0.0 * t
    fade = np.clip(t / 0.3, 0.0, 1.0)
    vibrato = vibrato_cents * fade * np.sin(2 * np.pi * vibrato_hz * t + rng.uniform(0, 2 * np.pi))
    knots = np.arange(0.0, NOTE_SECONDS + 0.5, 0.25)
    drift = np.interp(t, knots, rng.uniform(-5.0, 5.0, knots.size))
    return f0 * 2.0 ** ((glide + vibrato + drift) / 1200.0)


def _resonator(audio: np.ndarray, hz: float, bandwidth: float) -> np.ndarray:
    """A two-pole resonance at ``hz`` (unit gain at its peak, roughly)."""
    r = np.exp(-np.pi * bandwidth / SAMPLE_RATE)
    theta = 2 * np.pi * hz / SAMPLE_RATE
    return lfilter([1.0 - r], [1.0, -2.0 * r * np.cos(theta), r * r], audio)


def synthetic_note(f0: float, timbre: str, vibrato_cents: float, vibrato_hz: float, glide_seconds: float,
                   glide_cents: float, breath: bool, rng: np.random.Generator) -> np.ndarray:
    """A harmonic source (harmonics falling 12 dB an octave, band-limited) along :func:`pitch_track`, through
    the formants of ``timbre``, with a 40 ms attack, a 0.2 s release and, with ``breath``, breath noise
    that starts 0.15 s early and stays 25 dB down."""
    track = pitch_track(f0, vibrato_cents, vibrato_hz, glide_seconds, glide_cents, rng)
    phase = 2 * np.pi * np.cumsum(track) / SAMPLE_RATE
    source = np.zeros_like(phase)
    for k in range(1, int(0.45 * SAMPLE_RATE / f0) + 1):
        source += np.where(k * track < 0.45 * SAMPLE_RATE, np.sin(k * phase) / k**2, 0.0)
    audio = sum(gain * _resonator(source, hz, bandwidth) for hz, bandwidth, gain in FORMANTS[timbre])
    t = np.arange(audio.size) / SAMPLE_RATE
    audio = audio * np.clip(t / 0.04, 0.0, 1.0) * np.clip((NOTE_SECONDS - t) / 0.2, 0.0, 1.0)
    audio = audio / np.abs(audio).max()
    lead = round(0.15 * SAMPLE_RATE) if breath else 0
    audio = np.concatenate([np.zeros(lead), audio])
    if breath:
        noise = _resonator(rng.standard_normal(audio.size), 1500.0, 2000.0)
        envelope = np.clip(np.arange(audio.size) / (0.05 * SAMPLE_RATE), 0.0, 1.0)
        envelope[:lead] *= 10.0 ** (10.0 / 20.0)  # the breath before the tone sounds louder than under it
        audio = audio + 10.0 ** (-25.0 / 20.0) * envelope * noise / np.abs(noise).max() * 3.0
    return _normalised(audio)


def espeak_note(voice: str, pitch: int, phoneme: str, workdir: Path) -> tuple[np.ndarray, float | None]:
    """A long espeak-ng vowel at the model rate, and its pYIN median f0 over the voiced frames within
    :data:`SOUNDING_DB` of the loudest (pYIN calls the silence after the vowel voiced too)."""
    wav = workdir / "vowel.wav"
    command = ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", "80", "-w", str(wav), f"[[{phoneme}::::::::]]"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not wav.is_file():
        raise RuntimeError(f"espeak-ng failed on {voice} {phoneme}: {result.stderr.strip()[-400:]}")
    audio, rate = soundfile.read(wav, dtype="float64", always_2d=True)
    mono = librosa.resample(audio.mean(axis=1), orig_sr=rate, target_sr=SAMPLE_RATE) if rate != SAMPLE_RATE else audio.mean(axis=1)
    f0, voiced, _ = librosa.pyin(mono, fmin=60.0, fmax=800.0, sr=SAMPLE_RATE, frame_length=2048, hop_length=256)
    level = librosa.amplitude_to_db(librosa.feature.rms(y=mono, frame_length=2048, hop_length=256)[0], ref=np.max)
    voiced &= level[: voiced.size] >= -SOUNDING_DB
    return _normalised(mono), (float(np.median(f0[voiced])) if voiced.any() else None)


def main(argv: list[str] | None = None) -> int:
    """Render the set; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder (created)")
    parser.add_argument("--font", help="General MIDI SoundFont (.sf2/.sf3); default: an installed Debian one")
    parser.add_argument("--only", default=",".join(SOURCES), help=f"sources to render, comma-separated ({', '.join(SOURCES)})")
    parser.add_argument("--limit", type=int, help="render only the first N notes of each source")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic notes' drift, phase and breath")
    args = parser.parse_args(argv)
    wanted = args.only.split(",")
    unknown = sorted(set(wanted) - set(SOURCES))
    if unknown:
        sys.exit(f"error: unknown source(s) {', '.join(unknown)}; choose from {', '.join(SOURCES)}")
    if "gm" in wanted and shutil.which("fluidsynth") is None:
        sys.exit("error: the fluidsynth command is not installed: apt-get install -y fluidsynth")
    if "espeak" in wanted and shutil.which("espeak-ng") is None:
        print("espeak-ng is not installed (apt-get install -y espeak-ng): no espeak vowels", file=sys.stderr)
        wanted.remove("espeak")
    font = find_font(args.font) if "gm" in wanted else None
    limit = args.limit
    args.out.mkdir(parents=True, exist_ok=True)
    manifest: list[dict[str, object]] = []
    rng = np.random.default_rng(args.seed)

    def write(file: str, audio: np.ndarray, entry: dict[str, object]) -> None:
        soundfile.write(args.out / file, audio, SAMPLE_RATE, subtype="FLOAT")
        manifest.append({"file": file, **entry})
        print(f"[{len(manifest):2d}] {file}")

    with tempfile.TemporaryDirectory() as tmp:
        if "gm" in wanted:
            for name, program, note, category in GM_NOTES[:limit]:
                write(f"{name}_{note_name(note)}_{note}.wav", gm_note(font, program, note, Path(tmp)),
                      {"program": program, "note": note, "f0_hz": round(expected_f0(note), 3), "category": category,
                       "source": "gm"})
        if "synthetic" in wanted:
            for name, f0, timbre, depth, rate, glide_s, glide_c, breath in SYNTHETIC[:limit]:
                write(f"{name}.wav", synthetic_note(f0, timbre, depth, rate, glide_s, glide_c, breath, rng),
                      {"program": None, "note": None, "f0_hz": f0, "category": "synthetic", "source": "synthetic",
                       "vibrato_cents": depth, "vibrato_hz": rate, "glide_seconds": glide_s, "breath": breath})
        if "espeak" in wanted:
            for name, voice, pitch, phoneme in ESPEAK[:limit]:
                audio, f0 = espeak_note(voice, pitch, phoneme, Path(tmp))
                write(f"{name}.wav", audio, {"program": None, "note": None, "f0_hz": None if f0 is None else round(f0, 3),
                                             "category": "espeak", "source": "espeak", "f0_from": "pyin median, sounding frames"})
    (args.out / "manifest.json").write_text(json.dumps({"font": None if font is None else str(font),
                                                        "sample_rate": SAMPLE_RATE, "notes": manifest}, indent=1) + "\n")
    print(f"wrote {len(manifest)} files and manifest.json to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
