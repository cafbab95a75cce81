"""The demo itself (``dexbridge demo``; the command's options are :mod:`bridge.commands.demo`): the
main job end to end on the embedded defaults.

Starts the daemon in-process with no MIDI output (so no MIDI port, audio device or GPU is needed:
the parameter stream is what the daemon sends its OSC clients as ``/dexbridge/param``), sends it
over real UDP a plucked string synthesised here with the Karplus-Strong
algorithm (a sound from outside the DX7 training corpus), prints the inferred voice and writes it
(``voice.syx``), the plucked string and a render of the inferred voice as loud as it (``original.wav``,
``inferred.wav``: :mod:`bridge.commands.render_out`) and their spectrograms (``spectrograms.png``). Then it fills the
morph slots with two voices of DawDreamer's bundled brass bank, sweeps the morph from one to the
other, and writes the parameter stream the daemon sent (``morph.mid``: DX7 parameter changes at the
times they came) and a plot of the morph (``morph.png``). Every step is checked; the first one that
fails stops the demo with a :class:`DemoError` that says what went wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import mido
import numpy as np

from bridge.atomicfile import atomic_write
from bridge.commands.console import invoked_as
from bridge.commands.inputs import check_output_folder
from bridge.commands.pictures import Panel, mae_caption, morph_figure, save_png, spectrogram_figure
from bridge.commands.render_out import match_loudness, write_audio
from bridge.commands.search_options import INFER_RENDERS
from bridge.commands.voices import bundled_bank_path, shown_name
from bridge.daemon.lifecycle import Daemon
from bridge.daemon.settings import Settings
from bridge.midi.sysex import encode_param_change
from bridge.midi.syxfile import MIDI_TEMPO, MIDI_TICKS_PER_BEAT, read_syx_voices, write_voice_syx
from bridge.osc.client import DaemonRefusal, OscClient
from bridge.osc.namespace import OscValue
from engine.pitch import cents, estimate_f0
from engine.search_score import DEFAULT_SCORE, SCORE_WORDS
from engine.tuning import IN_TUNE_CENTS
from models.errors import DexbridgeError
from models.metrics import spec_mae, stft_magnitude
from models.params import BY_NAME, MIDDLE_C, OCTAVES, TRANSPOSE_CENTRE, display_value, note_name, operator_frequency
from models.render import SAMPLE_RATE, Renderer
from models.voice import Voice

PLUCK_NOTE = 57  # A3 in the usual naming (A2 in Yamaha's), 220 Hz: a guitar's open A string
PLUCK_SECONDS = 4.0
PLUCK_HELD_SECONDS = 3.0  # then damped, like the training renders' note-off at 3 s
MORPH_STEPS = 120
MORPH_SECONDS = 1.2
REPLY_TIMEOUT_S = 60.0  # an inference on a cold CPU, with the engine still warming up
DEMO_SEARCH_CAP_MS = 30_000.0  # far beyond what INFER_RENDERS take: the render budget decides, as in infer
QUIET_S = 0.5  # the morph has settled when no parameter change came for this long
SILENCE = 1e-4  # peak below this: nothing to hear
MORPH_BANK = "brass"
MORPH_VOICES = (0, 6)  # BRASS 1 (algorithm 18) -> PERCBRASS (algorithm 28)
FILES = ("original.wav", "inferred.wav", "voice.syx", "spectrograms.png", "morph.mid", "morph.png", "morph_end.syx")
"""What the demo writes into ``--out``."""


class DemoError(DexbridgeError, RuntimeError):
    """A demo step failed; the message names the step and what happened."""


@dataclass(frozen=True)
class ParamEvent:
    """One ``/dexbridge/param`` change the daemon sent, with its arrival time (s since the sweep began)."""

    time_s: float
    index: int
    value: int


@dataclass
class DemoReport:
    """What the demo produced."""

    out_dir: Path
    inferred: Voice
    f0_hz: float
    spec_mae: float
    morph_events: list[ParamEvent] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)


def karplus_strong(f0: float, seconds: float = PLUCK_SECONDS, held_seconds: float = PLUCK_HELD_SECONDS,
                   sample_rate: int = SAMPLE_RATE, seed: int = 7) -> np.ndarray:
    """A plucked string (Karplus-Strong): a noise burst recirculating through a damped delay line.

    Args:
        f0: pitch in Hz (the delay line is ``sample_rate / f0`` samples long).
        seconds: length of the result.
        held_seconds: the string rings this long, then is damped quickly (a note-off).
        sample_rate: samples per second.
        seed: seed of the excitation noise.

    Returns:
        Mono float32 audio peaking at 0.5.

    Raises:
        ValueError: a pitch outside 20 Hz .. sample_rate / 4, or durations that do not fit.
    """
    if not 20.0 <= f0 <= sample_rate / 4:
        raise ValueError(f"f0 = {f0} Hz, range 20..{sample_rate / 4:.0f} Hz at {sample_rate} Hz")
    if not 0 < held_seconds <= seconds:
        raise ValueError(f"held {held_seconds} s of {seconds} s: need 0 < held <= total")
    period = round(sample_rate / f0)
    total, held = round(seconds * sample_rate), round(held_seconds * sample_rate)
    out = np.zeros(total + period + 1)
    out[1:period + 1] = np.random.default_rng(seed).uniform(-1.0, 1.0, period)
    # y[n] = g * (y[n - P] + y[n - P - 1]) / 2, a period at a time (each block reads only the last)
    for start in range(period + 1, len(out), period):
        stop = min(start + period, len(out))
        gain = 0.996 if start < held + period + 1 else 0.6
        out[start:stop] = gain * 0.5 * (out[start - period:stop - period] + out[start - period - 1:stop - period - 1])
    audio = out[period + 1:]
    return (0.5 * audio / np.max(np.abs(audio))).astype(np.float32)


def describe_voice(voice: Voice) -> str:
    """A readable summary, values as the DX7 shows them: name, algorithm, feedback, LFO, transpose, and one
    line per operator (frequency as a ratio or a fixed frequency, detune -7..+7)."""
    def shown(name: str) -> int | str:
        return display_value(BY_NAME[name], voice[name], voice.vced)

    shift = voice["transpose"] - TRANSPOSE_CENTRE
    lines = [
        f"voice '{shown_name(voice)}': algorithm {shown('algorithm')}, feedback {shown('feedback')}, "
        f"transpose {shown('transpose')} ({shift:+d} semitones; {OCTAVES}), LFO {shown('lfo_wave')} speed {shown('lfo_speed')}",
        "  op  frequency        detune  level  EG rates      EG levels",
    ]
    for op in range(1, 7):
        def value(name: str, op: int = op) -> int:
            return voice[f"op{op}_{name}"]
        frequency = operator_frequency(bool(value("osc_mode")), value("coarse"), value("fine"))
        rates = " ".join(f"{value(f'eg_rate{i}'):2d}" for i in range(1, 5))
        levels = " ".join(f"{value(f'eg_level{i}'):2d}" for i in range(1, 5))
        lines.append(f"  {op}   {frequency:<16} {shown(f'op{op}_detune'):+6d}  {value('output_level'):5d}  {rates}   {levels}")
    return "\n".join(lines)


def plot_spectrograms(original: np.ndarray, inferred: np.ndarray, sample_rate: int, title: str, path: Path) -> float:
    """Write the two spectrograms one above the other as a PNG (log-frequency axis, one time scale), with
    their distance in words under them.

    Returns:
        The paper's log-spectral MAE between the two (closer is better; 0 = identical).
    """
    magnitudes = [stft_magnitude(audio)[0] for audio in (original, inferred)]
    distance = spec_mae(magnitudes[0][None], magnitudes[1][None])
    panels = [Panel("plucked string (sent to the daemon)", original, sample_rate),
              Panel("inferred DX7 voice, played at middle C", inferred, sample_rate)]
    save_png(spectrogram_figure(panels, title, mae_caption(distance)), path)
    return distance


def write_param_stream(path: Path, events: Sequence[ParamEvent], channel: int = 0) -> None:
    """Write the parameter changes as DX7 SysEx in a type-0 MIDI file, each at the time it came."""
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=MIDI_TEMPO, time=0)])
    previous = 0
    for event in events:
        tick = round(mido.second2tick(event.time_s, MIDI_TICKS_PER_BEAT, MIDI_TEMPO))
        message = encode_param_change(event.index, event.value, channel)
        track.append(mido.Message("sysex", data=message[1:-1], time=max(0, tick - previous)))
        previous = max(previous, tick)
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(type=0, ticks_per_beat=MIDI_TICKS_PER_BEAT, tracks=[track])
    atomic_write(path, lambda file: midi.save(file=file))


def plot_morph(sent: Sequence[tuple[float, float]], events: Sequence[ParamEvent], start: Voice,
               names: tuple[str, str], path: Path) -> None:
    """Write a PNG of the morph: the position sent, the parameters that moved most, the bytes streamed."""
    stream = [(event.time_s, event.index, event.value) for event in events]
    save_png(morph_figure(sent, stream, start.vced, names, QUIET_S), path)


def _replay(start: Voice, events: Sequence[ParamEvent]) -> Voice:
    return start.replace({e.index: e.value for e in events if e.index < len(start.values)})


@dataclass
class _Session:
    """One demo run's daemon client, with the steps that expect a reply."""

    client: OscClient
    say: Callable[[str], None]

    async def ask(self, address: str, *args: OscValue, expect: str, what: str) -> tuple[OscValue, ...]:
        self.client.clear(expect)
        self.client.send(address, *args)
        try:
            return await self.client.next(expect, timeout=REPLY_TIMEOUT_S)
        except DaemonRefusal as exc:
            raise DemoError(f"{what}: the daemon answered {address} with an error: {exc}") from None
        except TimeoutError:
            raise DemoError(f"{what}: no {expect} within {REPLY_TIMEOUT_S:.0f} s after {address}") from None


def check_in_tune(rendered: np.ndarray, f0: float, name: str) -> tuple[float, float]:
    """The f0 a render sounds at and its cents from ``f0``.

    Raises:
        DemoError: the render has no clear pitch, or is more than :data:`IN_TUNE_CENTS` away.
    """
    played = estimate_f0(rendered, SAMPLE_RATE).f0_hz
    off = None if played is None else cents(played, f0)
    if played is None or off is None or abs(off) > IN_TUNE_CENTS:
        heard = "no clear pitch" if played is None else f"{played:.1f} Hz ({off:+.0f} cents)"
        raise DemoError(f"the inferred voice '{name}' played at note {MIDDLE_C} sounds at {heard}, not at the "
                        f"pluck's {f0:.1f} Hz (within {IN_TUNE_CENTS:.0f} cents): it is out of tune")
    return played, off


async def _infer(session: _Session, out: Path) -> tuple[Voice, float, float]:
    f0 = 440.0 * 2 ** ((PLUCK_NOTE - 69) / 12)
    pluck = karplus_strong(f0)
    await asyncio.to_thread(write_audio, out / "original.wav", pluck, SAMPLE_RATE)
    session.say(f"sending a Karplus-Strong plucked string ({f0:.1f} Hz, {PLUCK_SECONDS:.0f} s) as /dexbridge/infer/file")
    for address in ("/dexbridge/voice", "/dexbridge/better"):
        session.client.clear(address)
    inferred = await session.ask("/dexbridge/infer/file", str(out.resolve() / "original.wav"),
                                 expect="/dexbridge/inferred", what="inferring a voice from the plucked string")
    heard_f0, level_db, backend, voice_f0, off_cents, _, source, found_distance = inferred
    for _, (better_source, score, better_cents, renders) in session.client.take("/dexbridge/better"):
        session.say(f"  better voice after {renders} renders: {better_source}, distance {score:.3f}, "
                    f"{better_cents:+.1f} cents")
    voices = session.client.take("/dexbridge/voice")
    if not voices:
        raise DemoError("inferring a voice from the plucked string: /dexbridge/inferred came without any /dexbridge/voice")
    voice = Voice.from_values(bytes(voices[-1][1][0]))  # type: ignore[arg-type]
    session.say(f"the engine ({backend}) heard f0 {heard_f0:.1f} Hz at {level_db:.1f} dB and answered with a voice "
                f"from {source} (distance {found_distance:.3f}: the search's score, {SCORE_WORDS[DEFAULT_SCORE]}):")
    session.say(describe_voice(voice))
    write_voice_syx(out / "voice.syx", voice)
    # the engine tunes the voice so that, played at the reference note, it sounds at the input's pitch
    rendered = await asyncio.to_thread(Renderer().render, voice, MIDDLE_C)
    if not np.any(np.abs(rendered) > SILENCE):
        raise DemoError(f"the inferred voice '{voice.name.strip()}' renders silent at note {MIDDLE_C}: "
                        "this checkpoint gives unusable voices; pass a trained one with --checkpoint")
    await asyncio.to_thread(check_in_tune, rendered, f0, voice.name.strip())  # a check of our own; the figure is the daemon's
    session.say(f"played at middle C ({note_name(MIDDLE_C)}, MIDI {MIDDLE_C}) it sounds at {voice_f0:.1f} Hz: "
                f"{off_cents:+.1f} cents from the pluck's {heard_f0:.1f} Hz (the daemon's measure, as in its log)")
    matched = await asyncio.to_thread(match_loudness, rendered, SAMPLE_RATE, pluck, SAMPLE_RATE)
    await asyncio.to_thread(write_audio, out / "inferred.wav", matched.audio, matched.sample_rate)
    distance = await asyncio.to_thread(plot_spectrograms, pluck, rendered, SAMPLE_RATE,
                                       f"plucked string -> '{voice.name.strip()}'", out / "spectrograms.png")
    session.say(f"wrote voice.syx, original.wav, inferred.wav, spectrograms.png (log-spectral MAE {distance:.3f}); "
                f"inferred.wav is {matched.describe()}")
    return voice, float(heard_f0), distance  # type: ignore[arg-type]


async def _morph(session: _Session, out: Path, start: Voice) -> list[ParamEvent]:
    bank = bundled_bank_path(MORPH_BANK)
    await session.ask("/dexbridge/bank/load", str(bank), expect="/dexbridge/done", what=f"loading {bank}")
    names = []
    for slot, index in enumerate(MORPH_VOICES):
        _, detail = await session.ask("/dexbridge/morph/slot", slot, str(index), expect="/dexbridge/done",
                                      what=f"filling morph slot {'AB'[slot]} with voice {index} of {bank.name}")
        names.append(str(detail).split("= ", 1)[-1])
    planned_by = time.monotonic() + REPLY_TIMEOUT_S  # a planned morph holds until its path is planned: sweep after
    while not json.loads(str((await session.ask("/dexbridge/status", expect="/dexbridge/status",
                                                what="waiting for the morph's plan"))[0]))["morph"]["line_planned"]:
        if time.monotonic() > planned_by:
            raise DemoError(f"morphing: the path {names[0]} -> {names[1]} was not planned within {REPLY_TIMEOUT_S:.0f} s")
        await asyncio.sleep(0.05)
    session.say(f"morphing {names[0]} -> {names[1]} in {MORPH_STEPS} steps over {MORPH_SECONDS} s")
    session.client.clear("/dexbridge/param")
    sent: list[tuple[float, float]] = []
    began = time.monotonic()
    for step in range(MORPH_STEPS + 1):
        session.client.send("/dexbridge/morph", step / MORPH_STEPS)
        sent.append((time.monotonic() - began, step / MORPH_STEPS))
        await asyncio.sleep(MORPH_SECONDS / MORPH_STEPS)
    try:
        arrivals = await session.client.drain("/dexbridge/param", quiet=QUIET_S, timeout=REPLY_TIMEOUT_S)
    except DaemonRefusal as exc:
        raise DemoError(f"morphing: the daemon refused a morph position: {exc}") from None
    events = [ParamEvent(at - began, int(args[0]), int(args[1])) for at, args in arrivals]  # type: ignore[call-overload]
    if not events:
        raise DemoError(f"morphing: {MORPH_STEPS + 1} morph positions made the daemon send no parameter change")
    end = out.resolve() / "morph_end.syx"
    await session.ask("/dexbridge/voice/save", str(end), expect="/dexbridge/done", what="saving the voice the morph ended on")
    saved = read_syx_voices(end, strict=True).voices[0].voice
    replayed = _replay(start, events)
    if replayed != saved:
        differ = sorted(replayed.diff(saved))
        raise DemoError(f"the parameter stream does not rebuild the daemon's voice: parameters {differ} differ "
                        "(a /dexbridge/param reply was lost or wrong)")
    write_param_stream(out / "morph.mid", events)
    await asyncio.to_thread(plot_morph, sent, events, start, (names[0], names[1]), out / "morph.png")
    session.say(f"morph: {len(events)} parameter changes ({7 * len(events)} bytes of SysEx) in "
                f"{events[-1].time_s:.2f} s; they rebuild the daemon's final voice exactly; wrote morph.mid, "
                "morph.png, morph_end.syx")
    return events


async def run_demo(out: Path, checkpoint: Path | None = None, *, backend: str = "auto", library: bool = True,
                   say: Callable[[str], None] = print) -> DemoReport:
    """Run the whole demo into ``out`` (created if missing).

    Args:
        out: directory for the files (:data:`FILES`).
        checkpoint: serving checkpoint; the shipped default when None.
        backend: engine backend name (``auto`` picks the fastest installed).
        library: let the search start from the shipped voice library too (else the network alone).
        say: where progress lines go.

    Returns:
        The inferred voice, what the engine heard, the morph's parameter stream and the files.

    Raises:
        DemoError: a step failed (the message says which and why).
        CheckpointError, BackendError: the model cannot be loaded.
    """
    check_output_folder(out, "--out")
    out.mkdir(exist_ok=True)
    # the daemon writes into --out and reads there and in the bundled bank's folder, nowhere else
    settings = Settings(osc_host="127.0.0.1", osc_port=0, osc_tcp=False, mode=("param",), sink=(),
                        files_dir=(out, bundled_bank_path(MORPH_BANK).parent), checkpoint=checkpoint, backend=backend,
                        no_library=not library, search_ms=DEMO_SEARCH_CAP_MS, search_renders=INFER_RENDERS)
    say(f"starting the daemon: loading the voice library and the model ({checkpoint or 'the shipped checkpoint'}, "
        f"backend {backend}), a few seconds")
    async with Daemon(settings).running() as daemon, OscClient.connect("127.0.0.1", daemon.osc_port) as client:
        session = _Session(client, say)
        await session.ask("/dexbridge/ping", expect="/dexbridge/pong", what="reaching the daemon over UDP")
        say(f"daemon answers on udp://127.0.0.1:{daemon.osc_port} (engine backend {daemon.engine.backend_name})")
        voice, f0, distance = await _infer(session, out)
        events = await _morph(session, out, voice)
    return DemoReport(out, voice, f0, distance, events, {name: out / name for name in FILES})



def next_steps(out: Path, program: str) -> str:
    """What to do after the demo, as command lines that work as printed from where it ran."""
    folder = str(out)
    return "\n".join([
        "what next:",
        f"  listen: {out / 'original.wav'} (the pluck sent) and {out / 'inferred.wav'} (the voice); load "
        f"{out / 'voice.syx'} into Dexed or a DX7",
        f"  your own sound:  {program} infer my_note.wav --out my_voice.syx --plot my_voice.png",
        "  live, with the embedded synth (no DAW needed; it plays through the default audio output):",
        f"    {program} serve --sink embedded --files-dir {folder}",
        f"    then, in a second terminal:  {program} send /dexbridge/infer/file original.wav   "
        "(any sound in that folder)",
        f"    and hear the voice:  {program} send /dexbridge/note 60",
        f"  Dexed in a DAW, Max, a hardware DX7: README.md 'Quick starts'; every command: {program} --help",
    ])


def run_command(args: argparse.Namespace) -> int:
    """``dexbridge demo``: run it, list the files, say what to do next."""
    report = asyncio.run(run_demo(args.out, args.checkpoint, backend=args.backend))
    print(f"demo done: {len(report.files)} files in {report.out_dir}/")
    for name, path in report.files.items():
        print(f"  {name:<16} {path.stat().st_size:>9} bytes")
    print(next_steps(args.out, invoked_as()))
    return 0
