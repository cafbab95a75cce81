"""Compare f0 estimators on DX7 renders of known pitch and on sampled instruments.

Corpus voices whose pitch follows from their parameters alone (every operator in ratio mode,
fine 0, detune 7, pitch EG levels all 50, transpose 24, no LFO pitch modulation), taken evenly
spread over the corpus's distinct voices: at a key, the f0 is the key's frequency times the
greatest common divisor of the frequency ratios of the operators that sound. Which operators
sound (``--truth``): ``audible`` (default) - those whose muting (output level 0) changes the
first 0.6 s of the render at that key by at least ``--audible-db`` (error energy relative to
the render's); ``levels`` - carriers within 30 dB of the loudest and the modulators at output
level >= ``--mod-level`` feeding a sounding operator, after keyboard level scaling and velocity.

Estimators: ``conditioning`` (the estimate_pitch engine/conditioning.py used before
engine/pitch.py: pYIN voicing, median YIN f0; copied here as it was at commit c87af18), ``pyin``
(plain librosa.pyin, default resolution, median of the voiced frames), ``crepe`` (the neural
cross-check, engine.neural_pitch.neural_f0) and ``ours`` (engine.pitch.estimate_f0). Every
estimator gets the same onset-aligned audio. Rows: share
within 50 cents, octave errors (a whole number of octaves off, within 50 cents), other wrong
answers, unpitched answers, median |cents| of the pitched answers, drums called unpitched.

    python scripts/render_instruments.py --out runs/instruments
    python scripts/render_performed_notes.py --out runs/performed
    python scripts/measure_pitch.py --corpus dx7_corpus.syx --voices 300 \
        --notes 36,48,60,72,84 --instruments runs/instruments --instruments runs/performed --short-render
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import librosa
import numpy as np
import soundfile
from dexed.algorithms import algorithms
from dexed.graph import _scale_level, _scale_outlevel, _scale_velocity

from engine.neural_pitch import neural_f0
from engine.pitch import estimate_f0
from models.packing import unpack_bank
from models.params import BY_NAME
from models.render import SAMPLE_RATE, Renderer
from models.voice import Voice

BULK_DUMP = 4104  # F0 43 0n 09 20 00, 4096 bytes of 32 packed voices, checksum, F7
Estimator = Callable[[np.ndarray, int], float | None]


def corpus_voices(path: Path) -> list[Voice]:
    """The distinct voices of a file of concatenated 32-voice bulk dumps, in file order."""
    data = path.read_bytes()
    if len(data) % BULK_DUMP or data[:6] != bytes.fromhex("f04300092000"):
        sys.exit(f"error: {path} is not a run of {BULK_DUMP}-byte DX7 32-voice bulk dumps")
    seen: dict[tuple[int, ...], Voice] = {}
    for start in range(0, len(data), BULK_DUMP):
        for voice, _ in unpack_bank(data[start + 6 : start + 6 + 4096]):
            seen.setdefault(voice.values[:145], voice)
    return list(seen.values())


def ratio(voice: Voice, op: int) -> float:
    """Frequency ratio of an operator in ratio mode (coarse 0 = 0.5)."""
    coarse = voice[f"op{op}_coarse"]
    return (coarse or 0.5) * (1 + voice[f"op{op}_fine"] / 100)


def known_pitch(voice: Voice) -> bool:
    """True when the voice's f0 follows from its ratios alone."""
    ops = range(1, 7)
    return (all(voice[f"op{op}_osc_mode"] == 0 and voice[f"op{op}_fine"] == 0 and voice[f"op{op}_detune"] == 7
                for op in ops)
            and all(voice[f"pitch_eg_level{i}"] == 50 for i in range(1, 5)) and voice["transpose"] == 24
            and (voice["lfo_pm_depth"] == 0 or voice["pitch_mod_sens"] == 0))


def level(voice: Voice, op: int, note: int, velocity: int) -> float:
    """An operator's output level at a key and velocity, on the 0-99 output-level scale (as msfa's
    dx7note.cc: output level, keyboard level scaling, velocity; 0.75 dB a step)."""
    scaled = _scale_outlevel(voice[f"op{op}_output_level"]) + _scale_level(
        note, voice[f"op{op}_break_point"], voice[f"op{op}_left_depth"], voice[f"op{op}_right_depth"],
        voice[f"op{op}_left_curve"], voice[f"op{op}_right_curve"])
    internal = max(0, min(127, scaled) * 32 + _scale_velocity(velocity, voice[f"op{op}_key_vel_sens"])) / 32
    return internal - 28  # output level 20..99 is internal 48..127


def sounding_ops(voice: Voice, note: int, mod_level: int, velocity: int = 85) -> list[int]:
    """Operators (1-6) that sound at a key: carriers within 30 dB of the loudest, and the modulators
    at output level >= ``mod_level`` (after key scaling) feeding a sounding operator; an operator
    whose EG levels 1-3 are all 0 is silent."""
    algorithm = algorithms[voice["algorithm"]]
    levels = {op: level(voice, op, note, velocity) for op in range(1, 7)}

    def live(op: int) -> bool:
        return voice[f"op{op}_output_level"] > 0 and max(voice[f"op{op}_eg_level{i}"] for i in (1, 2, 3)) > 0

    carriers = [c + 1 for c in algorithm.carriers if live(c + 1)]
    if not carriers:
        return []
    loudest = max(levels[op] for op in carriers)
    sounding = {op for op in carriers if levels[op] >= loudest - 40}
    grew = True
    while grew:
        grew = False
        for target in list(sounding):
            for source in (int(s) + 1 for s in np.flatnonzero(algorithm.mod_matrix[target - 1])):
                if source not in sounding and live(source) and levels[source] >= mod_level:
                    sounding.add(source)
                    grew = True
    return sorted(sounding)


def audible_ops(voice: Voice, note: int, renderer: Renderer, threshold_db: float) -> list[int]:
    """Operators (1-6) whose muting (output level 0) changes the render at a key by at least
    ``threshold_db`` (error energy relative to the render's energy)."""
    base = renderer.render(voice, note, 85).astype(np.float64)
    energy = float(np.sum(base**2))
    if energy == 0.0:
        return []
    audible = []
    for op in range(1, 7):
        if voice[f"op{op}_output_level"] == 0:
            continue
        muted = renderer.render(voice.replace({BY_NAME[f"op{op}_output_level"].index: 0}), note, 85)
        if 10 * math.log10(max(float(np.sum((muted - base) ** 2)) / energy, 1e-30)) >= threshold_db:
            audible.append(op)
    return audible


def f0_multiple(voice: Voice, ops: list[int]) -> tuple[float, float] | None:
    """(gcd of the ratios of ``ops``, lowest ratio among its carriers), or None when no carrier sounds."""
    carriers = [op for op in ops if op - 1 in algorithms[voice["algorithm"]].carriers]
    if not carriers:
        return None
    return math.gcd(*(round(2 * ratio(voice, op)) for op in ops)) / 2, min(ratio(voice, op) for op in carriers)


def trim_onset(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Audio from 5 ms before its first sample within 40 dB of the peak (as the Conditioner does)."""
    magnitude = np.abs(audio)
    if magnitude.max() == 0:
        return audio
    first = int(np.argmax(magnitude >= magnitude.max() * 0.01))
    return audio[max(0, first - round(0.005 * sample_rate)) :]


def conditioning_pitch(audio: np.ndarray, sample_rate: int) -> float | None:
    """engine.conditioning.estimate_pitch as of commit c87af18: pYIN (1 semitone) voicing, median YIN f0."""
    segment = audio[: round(0.5 * sample_rate)]
    segment = np.pad(segment, (0, max(0, 2048 - segment.size)))
    fmin, fmax = 32.0, min(2100.0, sample_rate / 4)
    _, voiced, _ = librosa.pyin(segment, fmin=fmin, fmax=fmax, sr=sample_rate, frame_length=2048, hop_length=512,
                                resolution=1.0)
    if np.mean(voiced) < 0.5:
        return None
    f0 = librosa.yin(segment, fmin=fmin, fmax=fmax, sr=sample_rate, frame_length=2048, hop_length=512)
    return float(np.median(f0[voiced[: f0.size]]))


def plain_pyin(audio: np.ndarray, sample_rate: int) -> float | None:
    """librosa.pyin at its default resolution on the first 0.5 s: median f0 of the voiced frames."""
    segment = audio[: round(0.5 * sample_rate)]
    f0, voiced, _ = librosa.pyin(np.pad(segment, (0, max(0, 2048 - segment.size))), fmin=30.0, fmax=2100.0,
                                 sr=sample_rate, frame_length=2048, hop_length=512)
    return float(np.median(f0[voiced])) if voiced.any() else None


ESTIMATORS: dict[str, Estimator] = {
    "conditioning": conditioning_pitch,
    "pyin": plain_pyin,
    "crepe": neural_f0,
    "ours": lambda audio, sr: estimate_f0(audio, sr).f0_hz,
}


class Tally:
    """Answers of one estimator on one set, against the expected f0s."""

    def __init__(self) -> None:
        self.errors: list[float | None] = []  # cents, None = answered unpitched
        self.unpitched_right = self.unpitched_total = 0
        self.seconds = 0.0

    def add(self, f0: float | None, expected: float | None, seconds: float) -> None:
        self.seconds += seconds
        if expected is None:
            self.unpitched_total += 1
            self.unpitched_right += f0 is None
        else:
            self.errors.append(None if f0 is None else 1200 * math.log2(f0 / expected))

    def row(self) -> str:
        n = len(self.errors)
        got = np.array([e for e in self.errors if e is not None])
        octave = np.round(got / 1200)
        near = np.abs(got - 1200 * octave) < 50
        cells = [f"{n:4d}", f"{np.sum(np.abs(got) < 50) / max(n, 1):6.1%}",
                 f"{np.sum(near & (octave != 0)) / max(n, 1):6.1%}", f"{np.sum(~near) / max(n, 1):6.1%}",
                 f"{(n - len(got)) / max(n, 1):6.1%}", f"{np.median(np.abs(got)) if got.size else float('nan'):7.1f}"]
        if self.unpitched_total:
            cells.append(f"{self.unpitched_right}/{self.unpitched_total}")
        else:
            cells.append("  -")
        calls = n + self.unpitched_total
        return " | ".join(cells + [f"{1000 * self.seconds / max(calls, 1):6.1f}"])


HEADER = "set | estimator | n | <50 cents | octave err | other err | unpitched | median abs cents | unpitched right | ms/call"


def run(cases: list[tuple[np.ndarray, float | None]], names: list[str]) -> dict[str, Tally]:
    """Every estimator on every (onset-aligned audio, expected f0) case."""
    tallies = {name: Tally() for name in names}
    for audio, expected in cases:
        for name in names:
            start = time.perf_counter()
            f0 = ESTIMATORS[name](audio, SAMPLE_RATE)
            tallies[name].add(f0, expected, time.perf_counter() - start)
    return tallies


def main(argv: list[str] | None = None) -> int:
    """Print the comparison table; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("dx7_corpus.syx"), help="concatenated DX7 32-voice banks (.syx)")
    parser.add_argument("--voices", type=int, default=300, help="corpus voices (evenly spread; 0: none)")
    parser.add_argument("--notes", default="60", help="comma-separated MIDI notes, e.g. 36,48,60,72,84")
    parser.add_argument("--truth", choices=("audible", "levels"), default="audible", help="which operators sound")
    parser.add_argument("--audible-db", type=float, default=-20.0, help="--truth audible: change that makes an op sound")
    parser.add_argument("--mod-level", type=int, default=35, help="--truth levels: output level from which a modulator sounds")
    parser.add_argument("--estimators", default="conditioning,pyin,ours")
    parser.add_argument("--instruments", type=Path, action="append", default=[],
                        help="folder written by scripts/render_instruments.py or render_performed_notes.py (repeatable)")
    parser.add_argument("--short-render", action="store_true", help="also check that a 1 s render measures the same")
    args = parser.parse_args(argv)
    names = args.estimators.split(",")
    unknown = sorted(set(names) - set(ESTIMATORS))
    if unknown:
        sys.exit(f"error: unknown estimator(s) {unknown}; known: {sorted(ESTIMATORS)}")
    notes = [int(n) for n in args.notes.split(",") if n]
    print(HEADER)
    renderer = Renderer()
    if args.voices > 0:
        if args.corpus is None or not args.corpus.is_file():
            sys.exit(f"error: corpus {args.corpus} not found: pass --corpus PATH (or --voices 0)")
        pool = [v for v in corpus_voices(args.corpus) if known_pitch(v)]
        picked = [pool[i] for i in np.unique(np.linspace(0, len(pool) - 1, min(args.voices, len(pool))).round().astype(int))]
        print(f"# {len(pool)} distinct corpus voices of known pitch; {len(picked)} measured", file=sys.stderr)
        probe = Renderer(note_seconds=0.6, render_seconds=0.6)
        for note in notes:
            cases, ambiguous, silent = [], [], 0
            for voice in picked:
                ops = (audible_ops(voice, note, probe, args.audible_db) if args.truth == "audible"
                       else sounding_ops(voice, note, args.mod_level))
                truth = f0_multiple(voice, ops)
                if truth is None:
                    silent += 1
                    continue
                audio = trim_onset(renderer.render(voice, note, 85).astype(np.float64), SAMPLE_RATE)
                cases.append((audio, float(librosa.midi_to_hz(note)) * truth[0]))
                ambiguous.append(truth[0] < truth[1])
            for name, tally in run(cases, names).items():
                print(f"corpus note {note} | {name} | {tally.row()}")
            subset = [case for case, below in zip(cases, ambiguous, strict=True) if below]
            for name, tally in run(subset, names).items():
                print(f"corpus note {note}, f0 below the lowest carrier | {name} | {tally.row()}")
            print(f"# note {note} done ({silent} silent voices skipped)", file=sys.stderr)
        if args.short_render:
            short = Renderer(note_seconds=1.0, render_seconds=1.0)
            same = []
            for voice in picked:
                a = estimate_f0(renderer.render(voice, 60, 85), SAMPLE_RATE).f0_hz
                b = estimate_f0(short.render(voice, 60, 85), SAMPLE_RATE).f0_hz
                same.append(a == b or (a is not None and b is not None and abs(1200 * math.log2(a / b)) < 1))
            print(f"# ours on a 1 s render vs the 4 s render, note 60: the same answer (within 1 cent) for "
                  f"{np.mean(same):.1%} of {len(same)} voices")
    for folder in args.instruments:
        manifest = json.loads((folder / "manifest.json").read_text())
        cases = []
        for entry in manifest["notes"]:
            audio, rate = soundfile.read(folder / entry["file"], dtype="float64")
            if rate != SAMPLE_RATE:
                sys.exit(f"error: {entry['file']} is at {rate} Hz, expected {SAMPLE_RATE}")
            cases.append((trim_onset(audio, rate), entry["f0_hz"]))
        for name, tally in run(cases, names).items():
            print(f"{folder.name} | {name} | {tally.row()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
