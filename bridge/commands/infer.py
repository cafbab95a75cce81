"""``dexbridge infer``: recordings -> DX7 voices (.syx) in tune, with their parameters, a render and
a spectrogram plot."""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge.audio_file import Excerpt, read_note
from bridge.commands.argtypes import midi_channel
from bridge.commands.console import step
from bridge.commands.inputs import check_output, check_output_folder, require_file
from bridge.commands.search_options import add_budget_options, add_library_options, search_library, time_cap_ms
from bridge.commands.takes import TakeSpec, parse_take, read_takes
from bridge.midi.syxfile import write_voice_syx
from engine.backends import BACKENDS
from engine.search_score import SCORE_WORDS
from models.errors import AudioFileError
from models.params import MIDDLE_C, NAME_START, OCTAVES, OPERATOR_BLOCK, VOICE_PARAMS, display_value, transpose_note

if TYPE_CHECKING:  # the engine, torch and numpy load in the handler: --help comes at once
    import numpy as np

    from bridge.commands.render_out import MatchedRender
    from engine.runtime import Engine, Inference
    from models.voice import Voice

"""``infer``'s default search budget, in renders (starts included): about 2-3 s on one core of the development
machine. A budget in renders, not time, gives the same recording and seed the same voice under any load (another CPU
or NumPy build may round a score's last bits otherwise); offline, a longer search than the daemon's pays."""
CONVENTIONS = {
    "parameters": "VCED values as stored in the voice and sent as SysEx (0-based: algorithm 0-31, transpose 24 = "
                  "no shift, detune 7 = none)",
    "display": f"values as the DX7 and Dexed show them (algorithm 1-32, detune -7..+7, notes in {OCTAVES}, "
               "operator frequency as a ratio or a fixed frequency)",
    "distance": "the search's score of the voice played at middle C against the recording (diagnostics.score: spec = "
                "log-spectral MAE, mel = log-mel dB / 20, spec+mel = their sum): closer is better, 0 = identical",
}
"""What ``--json``'s keys hold, printed with it."""


def voice_name(stem: str) -> str:
    """A DX7 voice name (10 printable ASCII characters, upper case) from a file stem."""
    ascii_only = "".join(c if 32 <= ord(c) < 127 else "_" for c in stem)
    return ascii_only.upper()[:10] or "DEXBRIDGE"


def inference_report(path: Path, out: Path, inference: Inference, used: tuple[float, float, float] | None = None,
                     render: tuple[Path, MatchedRender] | None = None) -> dict[str, Any]:
    """The JSON-ready record of one inference: files, the seconds of the input used (``used``: start,
    stop and the file's length), the voice's VCED values by name (``parameters``), the same as the DX7
    shows them (``display``), diagnostics with every number under a name, the render written."""
    voice = inference.voice
    diagnostics = asdict(inference.diagnostics)
    if diagnostics.get("distance") is not None:
        first, answer = diagnostics["distance"]
        diagnostics["distance"] = {"first_voice": first, "answer": answer}
    search_ms = diagnostics["timings_ms"].get("search", 0.0)
    diagnostics["renders_per_s"] = round(diagnostics["renders"] / search_ms * 1000.0, 1) if search_ms > 0 else None
    report: dict[str, Any] = {"input": str(path), "output": str(out)}
    if used is not None:
        report["used"] = dict(zip(("start_s", "stop_s", "file_s"), (round(s, 3) for s in used), strict=True))
    report |= {
        "name": voice.name.strip(),
        "parameters": {spec.name: voice[spec.index] for spec in VOICE_PARAMS[:NAME_START]},
        "display": {spec.name: display_value(spec, voice[spec.index], voice.vced) for spec in VOICE_PARAMS[:NAME_START]},
        "diagnostics": diagnostics,
        "conventions": CONVENTIONS,
    }
    if render is not None:
        written, matched = render
        report["render"] = {"output": str(written), "sample_rate": matched.sample_rate,
                            "input_lufs": _finite(matched.input_lufs), "gain_db": round(matched.gain_db, 2),
                            "below_input_db": round(matched.below_db, 2), "true_peak_db": _finite(matched.true_peak_db)}
    return report


def _finite(value: float) -> float | None:
    """A level for JSON, which has no -inf: rounded, or None when there is nothing to measure."""
    return round(value, 2) if math.isfinite(value) else None


def _frequency(text: str) -> str:
    return text.replace("ratio ", "x").replace("fixed ", "").replace(" Hz", "Hz")


def parameter_table(voice: Voice) -> str:
    """The voice as the DX7 shows it, named as on its panel and in Dexed: operator parameters as a
    6-column table (coarse and fine as the operator's frequency), then the global ones, then how to
    read them."""
    vced = voice.vced
    lines = [f"{'':<15}" + "".join(f"{f'OP{op}':>9}" for op in range(1, 7))]
    for offset, spec in enumerate(VOICE_PARAMS[:OPERATOR_BLOCK]):
        field = spec.name.split("_", 1)[1]
        if field == "fine":
            continue  # shown with coarse, as the frequency
        label = "FREQUENCY" if field == "coarse" else spec.label.split(" ", 1)[1]  # "OP6 EG RATE 1" -> "EG RATE 1"
        indices = [(6 - op) * OPERATOR_BLOCK + offset for op in range(1, 7)]  # OP6 is stored first
        values = [_frequency(str(display_value(VOICE_PARAMS[i], vced[i], vced))) for i in indices]
        lines.append(f"{label:<15}" + "".join(f"{value:>9}" for value in values))
    for spec in VOICE_PARAMS[6 * OPERATOR_BLOCK : NAME_START]:
        lines.append(f"{spec.label:<18}{display_value(spec, vced[spec.index], vced)!s:>6}")
    lines.append(f"(as the DX7 shows them: algorithm 1-32, detune -7..+7, frequency x ratio or fixed Hz, notes in {OCTAVES})")
    return "\n".join(lines)


def _summary(path: Path, out: Path, inference: Inference) -> str:
    voice, diag = inference.voice, inference.diagnostics
    lines = [
        f"{path} -> {out}: '{voice.name.strip()}' algorithm {voice['algorithm'] + 1}, transpose "
        f"{transpose_note(voice['transpose'])} ({diag.transpose:+d} semitones; {OCTAVES}); {pitch_summary(diag)}; "
        f"peak {diag.level_db:.1f} dBFS (gain {diag.gain_db:+.1f} dB); {diag.backend}, {diag.timings_ms['total']:.0f} ms",
        f"from {diag.source}; distance to the recording {diag.distance[1]:.3f} ({SCORE_WORDS[diag.score]}; first voice "
        f"{diag.distance[0]:.3f}, {diag.renders} renders; closer is better, 0 = identical)",
        *(f"note: {message}" for message in diag.messages),
    ]
    return "\n".join(lines)


def pitch_summary(diag: Any) -> str:
    """The input's and the voice's f0 and the cents between them, and the input's vibrato, in words."""
    if diag.f0_hz is None:
        voice = "" if diag.voice_f0_hz is None else f"; the voice plays at {diag.voice_f0_hz:.1f} Hz"
        return f"{diag.pitch} (transpose kept){voice}"
    vibrato = diag.vibrato
    heard = "" if vibrato is None else (
        f", vibrato +-{vibrato.depth_cents:.0f} cents at {vibrato.rate_hz:.1f} Hz"
        + (f" after {vibrato.delay_s:.2f} s" if vibrato.delay_s else "") + " (played by the voice's LFO)")
    if diag.cents is None:
        return f"input f0 {diag.f0_hz:.1f} Hz{heard}; {diag.pitch}"
    octaves = f", ratios scaled {diag.octaves:+d} octave(s)" if diag.octaves else ""
    return f"input f0 {diag.f0_hz:.1f} Hz{heard}, voice {diag.voice_f0_hz:.1f} Hz ({diag.cents:+.1f} cents{octaves})"


def _progress(better: Inference) -> None:
    diag = better.diagnostics
    cents = "" if diag.cents is None else f", {diag.cents:+.0f} cents"
    print(f"  {diag.renders:>4} renders  distance {diag.distance[1]:.3f}{cents}  {diag.source}", file=sys.stderr)


def _render(voice: Voice, velocity: int) -> np.ndarray:
    """The voice at middle C: with its transpose, it sounds at the input's pitch."""
    from models.render import Renderer

    return Renderer().render(voice, MIDDLE_C, velocity)


def _used(excerpt: Excerpt, seconds: float) -> tuple[float, float, float]:
    """The seconds of the file the engine used (start, stop) and the file's length."""
    return excerpt.start_s, min(excerpt.stop_s, excerpt.start_s + seconds), excerpt.file_s


def plot_spectrograms(path: Path, audio: np.ndarray, sample_rate: int, render: np.ndarray, render_rate: int,
                      title: str, caption: str) -> None:
    """Write a PNG: the input's spectrogram above the inferred voice's render, on one time scale and a
    log-frequency axis, with ``caption`` under them."""
    from bridge.commands.pictures import Panel, save_png, spectrogram_figure

    panels = [Panel("the recording", audio, sample_rate), Panel("the inferred voice played at middle C", render, render_rate)]
    save_png(spectrogram_figure(panels, title, caption), path, dpi=100)


def _write_render(path: Path, render: np.ndarray, render_rate: int, excerpt: Excerpt) -> MatchedRender:
    """Write the render at the input's rate and loudness, in the format ``path``'s extension names."""
    from bridge.commands.render_out import match_loudness, write_audio

    matched = match_loudness(render, render_rate, excerpt.audio, excerpt.sample_rate)
    write_audio(path, matched.audio, matched.sample_rate)
    return matched


def _render_line(path: Path, matched: MatchedRender) -> str:
    from bridge.commands.render_out import RENDER_FORMATS

    written = RENDER_FORMATS[path.suffix.lower()].words
    return f"render: {path} ({written}, {matched.sample_rate} Hz like the input), {matched.describe()}"


def _used_line(used: tuple[float, float, float]) -> str:
    start, stop, length = used
    rest = "" if stop - start >= length - 0.05 else "; the rest is not used"
    return f"used {start:.1f}-{stop:.1f} s of {length:.1f} s (the note from its onset{rest})"


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse what cannot work before the model loads: inputs that cannot be read or are empty,
    outputs into folders that do not exist or named for a format they are not written in."""
    from bridge.commands.render_out import RENDER_FORMATS

    if (args.render or args.plot) and len(args.audio) > 1:
        raise AudioFileError(f"--render / --plot take one AUDIO file, got {len(args.audio)}: run them one file at a time")
    if args.out is not None and len(args.audio) > 1:
        raise AudioFileError(f"--out names one .syx file but {len(args.audio)} AUDIO files were given: use --out-dir DIR")
    for path in args.audio:
        require_file(path)
    for option, path, suffixes in (("--out", args.out, (".syx",)), ("--render", args.render, tuple(RENDER_FORMATS)),
                                   ("--plot", args.plot, (".png",))):
        if path is not None:
            check_output(path, option, suffixes)
    if args.out_dir is not None:
        check_output_folder(args.out_dir, "--out-dir")


def _load_engine(args: argparse.Namespace) -> Engine:
    """The voice library and the model, with a line saying so before the wait."""
    with step(f"loading the voice library and the model ({args.checkpoint or 'the shipped checkpoint'}, "
              f"backend {args.backend})"):
        from engine.runtime import Engine

        library, _ = search_library(args)
        return Engine.load(args.checkpoint, backend=args.backend, search=not args.no_search,
                           search_budget_ms=time_cap_ms(args), library=library, search_workers=args.workers,
                           search_score=args.score)


def infer_files(args: argparse.Namespace) -> int:
    """``dexbridge infer``: one single-voice .syx per input (or one for all ``--take``s); parameters as a
    table or JSON."""
    takes = [spec for group in args.take or () for spec in group]
    if takes:
        return _infer_takes(args, takes)
    if not args.audio:
        raise AudioFileError("give AUDIO files, or --take FILE:NOTE:VELOCITY for several takes of one sound")
    _check_outputs(args)
    engine = _load_engine(args)
    from tqdm import tqdm

    from engine.conditioning import to_mono
    from engine.pitch import FMIN_HZ

    if args.out_dir is not None:
        args.out_dir.mkdir(exist_ok=True)
    budget = time_cap_ms(args)
    show = not args.json and not args.quiet and len(args.audio) == 1
    most = engine.seconds_heard(FMIN_HZ)  # the lowest pitch the engine reads is shifted up the most
    reports = []
    for path in tqdm(args.audio, desc="infer", unit="file", disable=len(args.audio) < 2 or not sys.stderr.isatty()):
        excerpt = read_note(path, most)
        inference = engine.infer(excerpt.audio, excerpt.sample_rate, budget_ms=budget, max_renders=args.max_renders,
                                 seed=args.seed, on_better=_progress if show else None)
        used = _used(excerpt, engine.seconds_heard(inference.diagnostics.f0_hz))
        voice = inference.voice.with_name(voice_name(path.stem))
        out = args.out if args.out is not None else args.out_dir / f"{path.stem}.syx"
        write_voice_syx(out, voice, channel=args.channel - 1)
        inference = replace(inference, voice=voice)
        written = None
        if args.render or args.plot:
            render = _render(voice, engine.checkpoint.notes[0][1])
            if args.render:
                written = (args.render, _write_render(args.render, render, engine.sample_rate, excerpt))
            if args.plot:
                diag = inference.diagnostics
                title = f"{path.name} -> '{voice.name.strip()}'"
                caption = (f"distance {diag.distance[1]:.3f} ({SCORE_WORDS[diag.score]}) over the model's 4 s window: "
                           "closer is better, 0 = identical")
                plot_spectrograms(args.plot, to_mono(excerpt.audio), excerpt.sample_rate, render, engine.sample_rate,
                                  title, caption)
        reports.append(inference_report(path, out, inference, used, written))
        if not args.json:
            print(_summary(path, out, inference))
            print(_used_line(used))
            print(parameter_table(voice))
            if written is not None:
                print(_render_line(*written))
    if args.json:
        print(json.dumps(reports if len(reports) > 1 else reports[0], indent=2))
    return 0


def _infer_takes(args: argparse.Namespace, specs: list[TakeSpec]) -> int:
    if args.audio or args.out is None:
        raise AudioFileError("--take gives one voice for all the takes: name it with --out VOICE.syx, and give no AUDIO")
    if args.render or args.plot:
        raise AudioFileError("--render / --plot take one AUDIO file, not --take: run infer on one take to hear or see it")
    takes = read_takes(specs)  # every file checked before the model loads
    check_output(args.out, "--out", (".syx",))
    engine = _load_engine(args)
    budget = time_cap_ms(args)
    inference = engine.infer_takes(takes, budget_ms=budget, max_renders=args.max_renders, seed=args.seed,  # type: ignore[arg-type]
                                   on_better=None if args.json or args.quiet else _progress)
    voice = inference.voice.with_name(voice_name(args.out.stem))
    write_voice_syx(args.out, voice, channel=args.channel - 1)
    inference = replace(inference, voice=voice)
    label = ", ".join(f"{s.path.name}:{s.note if s.note is not None else '?'}:{s.velocity}" for s in specs)
    if args.json:
        print(json.dumps(inference_report(Path(label), args.out, inference), indent=2))
    else:
        print(_summary(Path(label), args.out, inference))
        print(parameter_table(voice))
    return 0


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
        "model's 4 s window (a long file is read only around its note; the answer says which seconds). The "
        "network's answer and the nearest voices of the voice library are tuned so that, "
        f"played at middle C (MIDI {MIDDLE_C}), they sound at the recording's pitch (measured on a render of "
        "each voice), then scored by render against the recording; a seeded search improves the best ones for "
        "--max-renders renders (or until --search-ms). Drums, clicks and bells with no clear pitch get a voice too "
        "(their transpose is kept), and so does steady noise (with a note saying so); silence is refused.",
        epilog="example: dexbridge infer horn.wav --out horn.syx --render horn_dx7.wav --plot horn.png",
    )
    infer.add_argument("audio", type=Path, nargs="*", metavar="AUDIO", help="WAV / FLAC / OGG / AIFF files")
    infer.add_argument("--take", type=parse_take, action="append", metavar="FILE[:NOTE[:VELOCITY]]",
                       help="one take of a sound at its note and velocity (repeatable; the note defaults to the one "
                       "nearest its pitch, the velocity to 100), or a folder whose manifest.json lists them: one voice "
                       "for all the takes, scored on each at its own note and velocity (needs --out)")
    target = infer.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", type=Path, metavar="VOICE.syx", help="the .syx to write (one AUDIO file)")
    target.add_argument("--out-dir", type=Path, metavar="DIR", help="write DIR/<AUDIO stem>.syx for each AUDIO file")
    infer.add_argument("--json", action="store_true", help="print parameters and diagnostics as JSON, not tables")
    add_budget_options(infer)
    infer.add_argument("--seed", type=int, default=0, help="seed of the search (default 0): another seed, another path")
    infer.add_argument("--no-search", action="store_true",
                       help="answer with the first voice only (the network's or the nearest library voice, tuned)")
    add_library_options(infer)
    infer.add_argument("-q", "--quiet", action="store_true", help="do not list the better voices as they are found")
    infer.add_argument("--render", type=Path, metavar="OUT.wav",
                       help=f"write the inferred voice played at middle C (MIDI {MIDDLE_C}), held as in the training "
                       "renders, at the input's sample rate and loudness (ITU-R BS.1770; lower only where its true peak "
                       "would pass -1 dBFS): .wav or .flac (24-bit) or .ogg (Vorbis), as the extension names")
    infer.add_argument("--plot", type=Path, metavar="OUT.png",
                       help="write the input's and the render's spectrograms, one above the other on one time scale (PNG)")
    infer.add_argument("--channel", type=midi_channel, default=1, help="MIDI channel 1-16 of the dump (default 1)")
    _add_model_arguments(infer)
    infer.set_defaults(handler=infer_files)
