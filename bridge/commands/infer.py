"""``dexbridge infer``: recordings -> DX7 voices (.syx), with their parameters, a render and a
spectrogram plot; ``dexbridge refine-gain``: what render-and-compare refinement gains."""

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
from bridge.commands.librarian import transpose_note
from bridge.midi.syxfile import write_voice_syx
from engine.backends import BACKENDS
from engine.conditioning import REFERENCE_NOTE, to_mono
from engine.refine import DEFAULT_BUDGET_MS
from engine.refine_gain import refine_gain
from engine.runtime import Engine, Inference
from models.corpus import SPLITS, open_corpus
from models.errors import AudioFileError
from models.params import NAME_START, OPERATOR_BLOCK, VOICE_PARAMS
from models.render import NOTE_SECONDS, Renderer
from models.voice import Voice

PLOT_MAX_HZ = 8000.0
PLOT_N_FFT, PLOT_HOP = 1024, 256
PLOT_RANGE_DB = 100.0


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """Samples ((samples,) or (samples, channels) float32) and rate of an audio file.

    Raises:
        AudioFileError: missing file, or a format libsndfile cannot decode.
    """
    _require_file(path)
    try:
        audio, sample_rate = soundfile.read(path, dtype="float32", always_2d=False)
    except soundfile.LibsndfileError as error:
        raise AudioFileError(f"audio file {path} cannot be decoded ({error}): give WAV, FLAC, OGG or AIFF") from None
    return audio, int(sample_rate)


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise AudioFileError(f"audio file {path} not found: give an existing WAV, FLAC, OGG or AIFF file")


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
    pitch = "no stable pitch" if diag.f0_hz is None else f"f0 {diag.f0_hz:.1f} Hz, residual {diag.residual_cents:+.1f} cents"
    refined = f", refined spec_mae {diag.spec_mae[0]:.3f} -> {diag.spec_mae[1]:.3f}" if diag.spec_mae else ""
    lines = [
        f"{path} -> {out}: '{voice.name.strip()}' algorithm {voice['algorithm'] + 1}, transpose "
        f"{transpose_note(voice['transpose'])} ({diag.transpose:+d}); {pitch}; peak {diag.level_db:.1f} dBFS "
        f"(gain {diag.gain_db:+.1f} dB); {diag.backend}, {diag.timings_ms['total']:.0f} ms{refined}",
        *(f"note: {message}" for message in diag.messages),
    ]
    return "\n".join(lines)


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
        _require_file(path)  # before the model loads


def infer_files(args: argparse.Namespace) -> int:
    """``dexbridge infer``: one single-voice .syx per input; parameters as a table or JSON."""
    _check_outputs(args)
    engine = Engine.load(args.checkpoint, backend=args.backend, refine_budget_ms=args.refine_budget)
    refine = False if args.no_refine else (True if args.refine else None)
    reports = []
    for path in tqdm(args.audio, desc="infer", unit="file", disable=len(args.audio) < 2 or not sys.stderr.isatty()):
        audio, sample_rate = read_audio(path)
        inference = engine.infer(audio, sample_rate, refine=refine)
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


def measure_refine_gain(args: argparse.Namespace) -> int:
    """``dexbridge refine-gain``: spec_mae gained by refinement per budget on a corpus split."""
    engine = Engine.load(args.checkpoint, backend=args.backend, refine=False)
    with open_corpus(args.corpus) as corpus:
        voices = corpus.voices(args.split)[: args.voices]
    rows = refine_gain(engine, voices, args.budgets, seed=args.seed, progress=sys.stderr.isatty())
    if args.json:
        print(json.dumps([asdict(row) for row in rows], indent=2))
        return 0
    print(f"{len(voices)} {args.split} voices of {args.corpus}, backend {engine.backend_name}")
    print(f"{'BUDGET ms':>9}  {'START':>7}  {'REFINED':>7}  {'SPENT ms':>8}  {'RENDERS':>7}  GAIN/100ms")
    for row in rows:
        print(f"{row.budget_ms:>9.0f}  {row.start_spec_mae:>7.4f}  {row.refined_spec_mae:>7.4f}  {row.elapsed_ms:>8.1f}  "
              f"{row.evaluations:>7.1f}  {row.gain_per_100ms:.4f}")
    return 0


def _budgets(text: str) -> list[float]:
    try:
        budgets = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give milliseconds separated by commas, e.g. 50,100,200") from None
    if not all(budget > 0 for budget in budgets):
        raise argparse.ArgumentTypeError(f"{text!r}: every budget must be > 0 ms")
    return budgets


def _budget(text: str) -> float:
    return _budgets(text)[0]


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, default=None, metavar="FILE.pt",
                        help="serving checkpoint (default: models/checkpoints/default.pt)")
    parser.add_argument("--backend", choices=("auto", *BACKENDS), default="auto",
                        help="inference backend (default auto: the fastest that runs here)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``infer`` and ``refine-gain``."""
    infer = subparsers.add_parser(
        "infer", help="infer DX7 voices from recordings of single notes",
        description="Infer one DX7 voice per recording (any sample rate, mono or multichannel) and write it as "
        "a single voice dump. The recording is resampled, mixed to mono, aligned to its onset and fitted to the "
        "model's 4 s window; its pitch sets the voice's transpose so that the voice played at middle C "
        f"(MIDI {REFERENCE_NOTE}) sounds at the recording's pitch. Silence and steady noise are refused.",
        epilog="example: dexbridge infer horn.wav --out horn.syx --render horn_dx7.wav --plot horn.png",
    )
    infer.add_argument("audio", type=Path, nargs="+", metavar="AUDIO", help="WAV / FLAC / OGG / AIFF files")
    target = infer.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", type=Path, metavar="VOICE.syx", help="the .syx to write (one AUDIO file)")
    target.add_argument("--out-dir", type=Path, metavar="DIR", help="write DIR/<AUDIO stem>.syx for each AUDIO file")
    infer.add_argument("--json", action="store_true", help="print parameters and diagnostics as JSON, not tables")
    refine = infer.add_mutually_exclusive_group()
    refine.add_argument("--no-refine", action="store_true", help="skip render-and-compare refinement")
    refine.add_argument("--refine", action="store_true", help="refine even where the engine's default is off")
    infer.add_argument("--refine-budget", type=_budget, default=DEFAULT_BUDGET_MS, metavar="MS",
                       help=f"refinement time budget per voice (default {DEFAULT_BUDGET_MS:.0f} ms)")
    infer.add_argument("--render", type=Path, metavar="OUT.wav",
                       help=f"write the inferred voice played at MIDI {REFERENCE_NOTE}, {NOTE_SECONDS:.0f} s held (float WAV)")
    infer.add_argument("--plot", type=Path, metavar="OUT.png", help="write the input's and the render's spectrograms side by side")
    infer.add_argument("--channel", type=at_least(1, "MIDI channel"), default=1, help="MIDI channel 1-16 of the dump (default 1)")
    _add_model_arguments(infer)
    infer.set_defaults(handler=infer_files)

    gain = subparsers.add_parser(
        "refine-gain", help="measure the spec_mae that refinement gains per time budget",
        description="Render voices of a corpus split at middle C, infer them without refinement, then refine each "
        "at every budget and report mean spec_mae before / after and the gain per 100 ms spent.",
    )
    gain.add_argument("--corpus", type=Path, required=True, metavar="CORPUS.sqlite", help="from 'dexbridge corpus build'")
    gain.add_argument("--split", choices=SPLITS, default="test", help="corpus split (default test)")
    gain.add_argument("--voices", type=at_least(1, "voices"), default=50, metavar="N", help="first N voices (default 50)")
    gain.add_argument("--budgets", type=_budgets, default=[50.0, 100.0, 200.0], metavar="MS,MS,...",
                      help="time budgets in ms (default 50,100,200)")
    gain.add_argument("--seed", type=int, default=0, help="refinement seed (default 0)")
    gain.add_argument("--json", action="store_true", help="print JSON rows")
    _add_model_arguments(gain)
    gain.set_defaults(handler=measure_refine_gain)
