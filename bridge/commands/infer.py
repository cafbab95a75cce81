"""``dexbridge infer``: recordings -> DX7 voices (.syx) in tune, with their parameters, a render and
a spectrogram plot."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from tqdm import tqdm

from bridge.commands.argtypes import at_least
from bridge.commands.inputs import read_audio, require_file
from bridge.commands.librarian import transpose_note
from bridge.midi.syxfile import write_voice_syx
from engine.backends import BACKENDS
from engine.conditioning import REFERENCE_NOTE, to_mono
from engine.library import load_libraries
from engine.runtime import Engine, Inference
from models.errors import AudioFileError
from models.params import NAME_START, OPERATOR_BLOCK, VOICE_PARAMS
from models.render import NOTE_SECONDS, Renderer
from models.voice import Voice

INFER_BUDGET_MS = 2000.0
"""``infer``'s default search budget: offline, a longer search than the daemon's pays."""
PLOT_MAX_HZ = 8000.0
PLOT_N_FFT, PLOT_HOP = 1024, 256
PLOT_RANGE_DB = 100.0


def voice_name(stem: str) -> str:
    """A DX7 voice name (10 printable ASCII characters, upper case) from a file stem."""
    ascii_only = "".join(c if 32 <= ord(c) < 127 else "_" for c in stem)
    return ascii_only.upper()[:10] or "DEXBRIDGE"


def inference_report(path: Path, out: Path, inference: Inference) -> dict[str, Any]:
    """The JSON-ready record of one inference: files, voice parameters by name, diagnostics."""
    voice = inference.voice
    return {
        "input": str(path),
        "output": str(out),
        "name": voice.name.strip(),
        "parameters": {spec.name: voice[spec.index] for spec in VOICE_PARAMS[:NAME_START]},
        "diagnostics": asdict(inference.diagnostics),
    }


def parameter_table(voice: Voice) -> str:
    """The voice as text: operator parameters as a 6-column table, then the global ones."""
    fields = [spec.name.split("_", 1)[1] for spec in VOICE_PARAMS[:OPERATOR_BLOCK]]
    lines = [f"{'':<14}" + "".join(f"{f'OP{op}':>6}" for op in range(1, 7))]
    for offset, field in enumerate(fields):
        values = [voice[(6 - op) * OPERATOR_BLOCK + offset] for op in range(1, 7)]  # OP6 is stored first
        lines.append(f"{field:<14}" + "".join(f"{value:>6}" for value in values))
    for spec in VOICE_PARAMS[6 * OPERATOR_BLOCK : NAME_START]:
        lines.append(f"{spec.name:<16}{voice[spec.index]:>4}")
    return "\n".join(lines)


def _summary(path: Path, out: Path, inference: Inference) -> str:
    voice, diag = inference.voice, inference.diagnostics
    lines = [
        f"{path} -> {out}: '{voice.name.strip()}' algorithm {voice['algorithm'] + 1}, transpose "
        f"{transpose_note(voice['transpose'])} ({diag.transpose:+d}); {pitch_summary(diag)}; peak {diag.level_db:.1f} dBFS "
        f"(gain {diag.gain_db:+.1f} dB); {diag.backend}, {diag.timings_ms['total']:.0f} ms",
        f"from {diag.source}; log-spectral MAE against the recording {diag.spec_mae[1]:.3f} (first voice "
        f"{diag.spec_mae[0]:.3f}, {diag.renders} renders; 0 = identical)",
        *(f"note: {message}" for message in diag.messages),
    ]
    return "\n".join(lines)


def pitch_summary(diag: Any) -> str:
    """The input's and the voice's f0 and the cents between them, in words."""
    if diag.f0_hz is None:
        voice = "" if diag.voice_f0_hz is None else f"; the voice plays at {diag.voice_f0_hz:.1f} Hz"
        return f"{diag.pitch} (transpose kept){voice}"
    if diag.cents is None:
        return f"input f0 {diag.f0_hz:.1f} Hz; {diag.pitch}"
    octaves = f", ratios scaled {diag.octaves:+d} octave(s)" if diag.octaves else ""
    return f"input f0 {diag.f0_hz:.1f} Hz, voice {diag.voice_f0_hz:.1f} Hz ({diag.cents:+.1f} cents{octaves})"


def _progress(better: Inference) -> None:
    diag = better.diagnostics
    cents = "" if diag.cents is None else f", {diag.cents:+.0f} cents"
    print(f"  {diag.renders:>4} renders  MAE {diag.spec_mae[1]:.3f}{cents}  {diag.source}", file=sys.stderr)


def _render(voice: Voice, velocity: int) -> np.ndarray:
    """The voice at the reference note: with its transpose, it sounds at the input's pitch."""
    return Renderer().render(voice, REFERENCE_NOTE, velocity)


def plot_spectrograms(path: Path, audio: np.ndarray, sample_rate: int, render: np.ndarray, render_rate: int,
                      title: str) -> None:
    """Write a PNG: the input's spectrogram beside the inferred voice's render (Agg backend)."""
    import librosa
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    panels = [(audio, sample_rate, "input"), (render, render_rate, "inferred voice")]
    spectrograms = [librosa.amplitude_to_db(np.abs(librosa.stft(signal.astype(np.float32), n_fft=PLOT_N_FFT, hop_length=PLOT_HOP)),
                                            ref=PLOT_N_FFT / 4, amin=1e-6, top_db=None) for signal, _, _ in panels]
    top = max(float(db.max()) for db in spectrograms)  # one scale for both: levels compare
    figure, axes = pyplot.subplots(1, 2, figsize=(12, 4.5), sharey=True, layout="constrained")
    for axis, db, (signal, rate, label) in zip(axes, spectrograms, panels, strict=True):
        extent = (0.0, signal.size / rate, 0.0, rate / 2.0)
        image = axis.imshow(db, origin="lower", aspect="auto", extent=extent, cmap="magma", vmin=top - PLOT_RANGE_DB, vmax=top)
        axis.set(title=label, xlabel="time (s)", ylim=(0.0, min(PLOT_MAX_HZ, rate / 2.0)))
    axes[0].set_ylabel("frequency (Hz)")
    figure.colorbar(image, ax=axes, label="dB (0 dB: a full-scale sine)")
    figure.suptitle(title)
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def _check_outputs(args: argparse.Namespace) -> None:
    if (args.render or args.plot) and len(args.audio) > 1:
        raise AudioFileError(f"--render / --plot take one AUDIO file, got {len(args.audio)}: run them one file at a time")
    if args.out is not None and len(args.audio) > 1:
        raise AudioFileError(f"--out names one .syx file but {len(args.audio)} AUDIO files were given: use --out-dir DIR")
    for path in args.audio:
        require_file(path)  # before the model loads


def infer_files(args: argparse.Namespace) -> int:
    """``dexbridge infer``: one single-voice .syx per input; parameters as a table or JSON."""
    _check_outputs(args)
    library = load_libraries(args.library, not args.no_library)
    engine = Engine.load(args.checkpoint, backend=args.backend, search=not args.no_search, search_budget_ms=args.search_ms,
                         library=library)
    budget = float("inf") if args.max_renders is not None else args.search_ms
    show = not args.json and not args.quiet and len(args.audio) == 1
    reports = []
    for path in tqdm(args.audio, desc="infer", unit="file", disable=len(args.audio) < 2 or not sys.stderr.isatty()):
        audio, sample_rate = read_audio(path)
        inference = engine.infer(audio, sample_rate, budget_ms=budget, max_renders=args.max_renders, seed=args.seed,
                                 on_better=_progress if show else None)
        voice = inference.voice.with_name(voice_name(path.stem))
        out = args.out if args.out is not None else args.out_dir / f"{path.stem}.syx"
        out.parent.mkdir(parents=True, exist_ok=True)
        write_voice_syx(out, voice, channel=args.channel - 1)
        inference = replace(inference, voice=voice)
        reports.append(inference_report(path, out, inference))
        if not args.json:
            print(_summary(path, out, inference))
            print(parameter_table(voice))
        if args.render or args.plot:
            render = _render(voice, engine.checkpoint.notes[0][1])
            if args.render:
                soundfile.write(args.render, render, engine.sample_rate, subtype="FLOAT")
            if args.plot:
                title = f"{path.name} -> '{voice.name.strip()}'"
                plot_spectrograms(args.plot, to_mono(audio), sample_rate, render, engine.sample_rate, title)
    if args.json:
        print(json.dumps(reports if len(reports) > 1 else reports[0], indent=2))
    return 0


def _budget(text: str) -> float:
    try:
        budget = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give milliseconds, e.g. 500") from None
    if not budget >= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the budget must be >= 0 ms")
    return budget


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, default=None, metavar="FILE.pt",
                        help="serving checkpoint (default: models/checkpoints/default.pt)")
    parser.add_argument("--backend", choices=("auto", *BACKENDS), default="auto",
                        help="inference backend (default auto: the fastest that runs here)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``infer``."""
    infer = subparsers.add_parser(
        "infer", help="infer DX7 voices from recordings of single notes",
        description="Infer one DX7 voice per recording (any sample rate, mono or multichannel) and write it as "
        "a single voice dump. The recording is resampled, mixed to mono, aligned to its onset and fitted to the "
        "model's 4 s window. The network's answer and the nearest voices of the voice library are tuned so that, "
        f"played at middle C (MIDI {REFERENCE_NOTE}), they sound at the recording's pitch (measured on a render of "
        "each voice), then scored by render against the recording; a seeded search improves the best ones until "
        "--search-ms. Drums, clicks and bells with no clear pitch get a voice too (their transpose is kept); "
        "silence and steady noise are refused.",
        epilog="example: dexbridge infer horn.wav --out horn.syx --render horn_dx7.wav --plot horn.png",
    )
    infer.add_argument("audio", type=Path, nargs="+", metavar="AUDIO", help="WAV / FLAC / OGG / AIFF files")
    target = infer.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", type=Path, metavar="VOICE.syx", help="the .syx to write (one AUDIO file)")
    target.add_argument("--out-dir", type=Path, metavar="DIR", help="write DIR/<AUDIO stem>.syx for each AUDIO file")
    infer.add_argument("--json", action="store_true", help="print parameters and diagnostics as JSON, not tables")
    infer.add_argument("--search-ms", type=_budget, default=INFER_BUDGET_MS, metavar="MS",
                       help=f"search time budget per recording (default {INFER_BUDGET_MS:.0f} ms; 0 = the first voice)")
    infer.add_argument("--max-renders", type=at_least(1, "renders"), metavar="N",
                       help="search budget in renders instead of time: the same file and seed give the same voice")
    infer.add_argument("--seed", type=int, default=0, help="seed of the search (default 0): another seed, another path")
    infer.add_argument("--no-search", action="store_true",
                       help="answer with the first voice only (the network's or the nearest library voice, tuned)")
    infer.add_argument("--library", type=Path, action="append", metavar="LIB.npz",
                       help="also start from this voice library ('dexbridge library build'; repeatable)")
    infer.add_argument("--no-library", action="store_true", help="leave the shipped voice library out")
    infer.add_argument("-q", "--quiet", action="store_true", help="do not list the better voices as they are found")
    infer.add_argument("--render", type=Path, metavar="OUT.wav",
                       help=f"write the inferred voice played at MIDI {REFERENCE_NOTE}, {NOTE_SECONDS:.0f} s held (float WAV)")
    infer.add_argument("--plot", type=Path, metavar="OUT.png", help="write the input's and the render's spectrograms side by side")
    infer.add_argument("--channel", type=at_least(1, "MIDI channel"), default=1, help="MIDI channel 1-16 of the dump (default 1)")
    _add_model_arguments(infer)
    infer.set_defaults(handler=infer_files)
