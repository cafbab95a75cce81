"""The live bridge: its state (voice, morph slots, bank, modes) and one method per OSC address.

Methods are named after their address (``/dexbridge/morph/slot`` -> :meth:`BridgeSession.morph_slot`,
see ``Route.handler``) and take the sender then the checked arguments. Each returns at once: model
work goes through the engine's worker or the control loop, file work through ``asyncio.to_thread``
in a tracked task; anything refused raises (or, from a task, is reported) as ``/dexbridge/error``.
Every new voice, whatever its source, goes through :meth:`BridgeSession.apply_voice`: OSC replies,
then each output.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bridge.morph import ControlLoop
from bridge.osc_api import OSC_ROUTES
from bridge.osc_server import OscRequest, OscServer, Peer
from bridge.settings import OUTPUT_MODES, Settings
from bridge.sysex import encode_bank_dump, encode_voice_dump
from bridge.syxfile import read_syx_voices, write_file
from bridge.uploads import UploadError, Uploads
from engine.latent import interpolate, morph_2d
from models.errors import DexbridgeError
from models.params import BY_INDEX, to_host_value
from models.voice import Voice

logger = logging.getLogger(__name__)

SLOT_NAMES = "ABCD"
BANK_SIZE = 32
MAX_TASKS = 32  # file and audio requests in flight; more are refused as busy
UDP_BLOB_LIMIT = 65_000


class RequestError(DexbridgeError, ValueError):
    """A request the bridge refuses: a value out of range, an empty slot, a missing file, busy."""


class Output(Protocol):
    """A MIDI-side destination of voices and notes (a port in some modes, the embedded synth, ...)."""

    def send_voice(self, voice: Voice) -> None:
        """Bring the destination to this voice (whatever messages its mode sends)."""

    def send_note(self, message: bytes) -> None:
        """Pass a note or controller message through."""

    def set_modes(self, modes: Sequence[str]) -> None:
        """Switch output modes (``param``, ``dump``, ``cc``; ``osc`` is the session's own)."""

    def status(self) -> dict[str, Any]:
        """JSON-ready figures for ``/dexbridge/status``."""

    def all_notes_off(self) -> None:
        """Silence every sounding note (shutdown, panic)."""

    async def aclose(self) -> None:
        """Flush and close."""


class Engine(Protocol):
    """What the session uses of :class:`engine.runtime.Engine` (sync, thread-safe)."""

    latent_dim: int
    macro_count: int
    backend_name: str

    def encode(self, voice: Voice) -> np.ndarray: ...

    def macros_to_latent(self, values: Sequence[float], origin: np.ndarray | None = None) -> np.ndarray: ...


class Worker(Protocol):
    """What the session uses of :class:`engine.worker.InferenceWorker`."""

    async def infer(self, audio: np.ndarray, sample_rate: int) -> Any: ...

    async def decode(self, latent: np.ndarray) -> Voice: ...


@dataclass
class Slot:
    """A morph corner: its voice and that voice's latent point."""

    voice: Voice
    latent: np.ndarray


@dataclass
class BridgeState:
    """Everything the daemon holds between messages (built in ``Daemon.startup``, never global)."""

    voice: Voice = field(default_factory=Voice.init)
    latent: np.ndarray | None = None
    slots: list[Slot | None] = field(default_factory=lambda: [None] * len(SLOT_NAMES))
    bank: list[Voice] = field(default_factory=lambda: [Voice.init() for _ in range(BANK_SIZE)])
    modes: tuple[str, ...] = ("param",)
    dump_slot: int | None = None  # the next voice dump on MIDI in fills this morph slot
    macro_values: np.ndarray | None = None
    macro_origin: np.ndarray | None = None
    voices_applied: int = 0
    started: float = field(default_factory=time.monotonic)


class BridgeSession:
    """The operations behind the OSC namespace (and MIDI in), on one :class:`BridgeState`.

    Args:
        settings: the resolved daemon settings.
        engine: the loaded model.
        worker: the engine's asyncio face.
        server: replies and error reports go through it.
        outputs: MIDI-side destinations of every new voice.
    """

    def __init__(self, settings: Settings, engine: Engine, worker: Worker, server: OscServer, outputs: Sequence[Output]) -> None:
        self.settings = settings
        self.engine = engine
        self.worker = worker
        self.server = server
        self.outputs = list(outputs)
        self.state = BridgeState(modes=settings.mode)
        self.uploads = Uploads(settings.upload_limit, settings.upload_timeout_s)
        self.control = ControlLoop(worker.decode, self._controlled_voice, self._control_failed,
                                   rate_hz=settings.control_rate, slew_ms=settings.slew_ms)
        self.tasks: set[asyncio.Task[None]] = set()
        self._control_peer: Peer | None = None
        self._origin_task: asyncio.Task[None] | None = None
        self.audition: Any = None  # a private embedded synth for /dexbridge/note, made on first use
        self._upload_peers: dict[int, Peer] = {}
        self._expiry: asyncio.TimerHandle | None = None

    # ----- dispatch and tasks -----------------------------------------------------------------

    def handle(self, request: OscRequest) -> None:
        """The OSC server's handler: call the method the route names with the checked arguments."""
        getattr(self, OSC_ROUTES[request.address].handler)(request.peer, *request.args)

    def spawn(self, job: Coroutine[Any, Any, None], peer: Peer | None, address: str) -> asyncio.Task[None]:
        """Run a request's slow part as a tracked task; its failure is reported to ``peer``.

        Raises:
            RequestError: ``MAX_TASKS`` requests already in flight (the job is not started).
        """
        if len(self.tasks) >= MAX_TASKS:
            job.close()
            raise RequestError(f"busy: {len(self.tasks)} requests in flight (at most {MAX_TASKS}); retry when they finish")

        async def guarded() -> None:
            try:
                await job
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.server.refuse(peer, _as_request_error(exc), address)

        task = asyncio.get_running_loop().create_task(guarded(), name=f"dexbridge{address}")
        self.tasks.add(task)  # a hard reference, or the task may be garbage-collected mid-flight
        task.add_done_callback(self.tasks.discard)
        return task

    def close(self) -> None:
        """Release what the session made itself: the upload expiry timer, the audition synth."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if self.audition is not None:
            self.audition.close()
            self.audition = None

    # ----- new voices -------------------------------------------------------------------------

    def apply_voice(self, voice: Voice, latent: np.ndarray | None = None, *, controlled: bool = False) -> None:
        """Make ``voice`` current: every output first, then the ``/dexbridge/voice`` and ``/dexbridge/param`` replies.

        Args:
            voice: the new voice.
            latent: its latent point, when known.
            controlled: the voice comes from the control loop (macros keep their origin).
        """
        previous, self.state.voice, self.state.latent = self.state.voice, voice, latent
        self.state.voices_applied += 1
        if not controlled:
            self.control.forget("macro")
            self.state.macro_values = self.state.macro_origin = None
        for output in self.outputs:  # MIDI first: its first byte is the latency that matters
            output.send_voice(voice)
        changes = previous.diff(voice)
        self.server.broadcast("/dexbridge/voice", voice.vced)
        replies: list[tuple[str, tuple[Any, ...]]] = [("/dexbridge/param", (i, v)) for i, v in changes.items()]
        if "osc" in self.state.modes:
            replies += [("/dexbridge/host_param", (BY_INDEX[i].dexed_name, to_host_value(BY_INDEX[i], v)))
                        for i, v in changes.items() if BY_INDEX[i].dexed_name]
        self.server.broadcast_bundle(replies)

    def _controlled_voice(self, voice: Voice, latent: np.ndarray) -> None:
        self.apply_voice(voice, latent, controlled=True)

    def _control_failed(self, exc: BaseException) -> None:
        self.server.refuse(self._control_peer, _as_request_error(exc), "control")

    def report(self, exc: BaseException, source: str) -> None:
        """A failure with no requester (MIDI in, a sink): log, count, and tell every client."""
        self.server.refuse(None, exc, source)
        message = str(exc) if isinstance(exc, DexbridgeError) else f"{source}: internal error {type(exc).__name__}"
        self.server.broadcast("/dexbridge/error", f"{source}: {message}")

    async def _infer(self, peer: Peer, audio: np.ndarray, sample_rate: int) -> None:
        inference = await self.worker.infer(audio, sample_rate)
        self.apply_voice(inference.voice, inference.latent)
        diagnostics = inference.diagnostics
        self.server.reply(peer, "/dexbridge/inferred", float(diagnostics.f0_hz or 0.0), float(diagnostics.level_db),
                          str(diagnostics.backend))

    # ----- the namespace ----------------------------------------------------------------------

    def ping(self, peer: Peer) -> None:
        """Answer ``/dexbridge/pong``."""
        self.server.reply(peer, "/dexbridge/pong")

    def status(self, peer: Peer) -> None:
        """Answer ``/dexbridge/status`` with the state as JSON."""
        state = self.state
        report = {
            "voice": state.voice.name.strip(),
            "modes": list(state.modes),
            "slots": [slot.voice.name.strip() if slot else None for slot in state.slots],
            "bank": [voice.name.strip() for voice in state.bank],
            "backend": self.engine.backend_name,
            "latent_dim": self.engine.latent_dim,
            "macros": self.engine.macro_count,
            "voices_applied": state.voices_applied,
            "control_steps": self.control.steps,
            "requests_in_flight": len(self.tasks),
            "uploads_open": len(self.uploads),
            "outputs": [output.status() for output in self.outputs],
            "uptime_s": round(time.monotonic() - state.started, 3),
            "osc": dict(self.server.stats),
            "settings": self.settings.to_dict(),
        }
        self.server.reply(peer, "/dexbridge/status", json.dumps(report))

    def infer_file(self, peer: Peer, path: str) -> None:
        """Infer a voice from an audio file read off the loop."""
        async def job() -> None:
            audio, sample_rate = await asyncio.to_thread(_read_audio, Path(path).expanduser())
            await self._infer(peer, audio, sample_rate)

        self.spawn(job(), peer, "/dexbridge/infer/file")

    def infer_blob(self, peer: Peer, blob: bytes, sample_rate: int) -> None:
        """Infer a voice from float32 mono samples carried in the message."""
        if not blob or len(blob) % 4:
            raise RequestError(f"/dexbridge/infer/blob: {len(blob)} B is not a whole number of float32 samples (4 B each)")
        self.spawn(self._infer(peer, np.frombuffer(blob, dtype="<f4").astype(np.float32), sample_rate), peer,
                   "/dexbridge/infer/blob")

    def upload_begin(self, peer: Peer, upload_id: int, total: int, sample_rate: int) -> None:
        """Open a chunked upload; one left without a chunk for ``upload_timeout_s`` is dropped and reported."""
        self.uploads.begin(upload_id, total, sample_rate, time.monotonic())
        self._upload_peers[upload_id] = peer
        if self._expiry is None:
            self._expiry = asyncio.get_running_loop().call_later(self.settings.upload_timeout_s, self._expire_uploads)

    def _expire_uploads(self) -> None:
        self._expiry = None
        for upload_id in self.uploads.expire(time.monotonic()):
            expired = UploadError(f"upload {upload_id}: no chunk for {self.settings.upload_timeout_s:g} s, dropped; begin again")
            self.server.refuse(self._upload_peers.pop(upload_id, None), expired, "/dexbridge/upload")
        if len(self.uploads):
            self._expiry = asyncio.get_running_loop().call_later(self.settings.upload_timeout_s / 4, self._expire_uploads)

    def upload_chunk(self, peer: Peer, upload_id: int, offset: int, data: bytes) -> None:
        """Append one chunk to an upload."""
        self.uploads.chunk(upload_id, offset, data, time.monotonic())

    def upload_end(self, peer: Peer, upload_id: int) -> None:
        """Finish an upload and infer a voice from it."""
        finished = self.uploads.end(upload_id)
        self._upload_peers.pop(upload_id, None)
        self.spawn(self._infer(peer, finished.audio, finished.sample_rate), peer, "/dexbridge/upload/end")

    def capture(self, peer: Peer, seconds: float) -> None:
        """Record the audio input, then infer a voice from it."""
        from bridge.capture import record  # sounddevice loads PortAudio: only when capturing

        async def job() -> None:
            recording = await record(seconds, self.settings.input_device)
            await self._infer(peer, recording.audio, recording.sample_rate)

        self.spawn(job(), peer, "/dexbridge/capture")

    def latent(self, peer: Peer, *values: float) -> None:
        """Move to a latent point (slewed)."""
        if len(values) != self.engine.latent_dim:
            raise RequestError(f"/dexbridge/latent: {len(values)} values, this model's latent has {self.engine.latent_dim}")
        self._control_peer = peer
        self.control.set("latent", np.asarray(values), lambda z: z.astype(np.float32))

    def macro(self, peer: Peer, index: int, value: float) -> None:
        """Set one macro around the current voice."""
        count = self.engine.macro_count
        if not 0 <= index < count:
            raise RequestError(f"/dexbridge/macro: index {index}, range 0..{count - 1} ({count} macros in this model)")
        if not -1.0 <= value <= 1.0:
            raise RequestError(f"/dexbridge/macro: value {value}, range -1..1")
        state = self.state
        if state.macro_values is None:
            state.macro_values = np.zeros(count)
        state.macro_values[index] = value
        self._control_peer = peer
        if state.macro_origin is not None:
            self._set_macros()
        elif self._origin_task is None:
            self._origin_task = self.spawn(self._encode_macro_origin(), peer, "/dexbridge/macro")

    async def _encode_macro_origin(self) -> None:
        try:
            state = self.state
            origin = state.latent if state.latent is not None else await asyncio.to_thread(self.engine.encode, state.voice)
            state.macro_origin = origin
            if state.macro_values is not None:
                self._set_macros()
        finally:
            self._origin_task = None

    def _set_macros(self) -> None:
        origin = self.state.macro_origin
        values = self.state.macro_values
        assert origin is not None and values is not None
        self.control.set("macro", values.copy(), lambda v: self.engine.macros_to_latent(v.tolist(), origin))

    def morph_slot(self, peer: Peer, slot: int, source: str | int) -> None:
        """Fill a morph corner from a bank index, a ``.syx`` file, the current voice, or the next MIDI voice dump."""
        if not 0 <= slot < len(SLOT_NAMES):
            raise RequestError(f"/dexbridge/morph/slot: slot {slot}, range 0..3 (A B C D)")
        text = str(source).strip()
        if text == "midi":
            self.state.dump_slot = slot
        elif text == "current":
            self.fill_slot(peer, slot, self.state.voice, self.state.latent)
        elif text.isdigit():
            self.fill_slot(peer, slot, self._bank_voice(int(text), "/dexbridge/morph/slot"))
        else:
            async def job() -> None:
                await self._set_slot(peer, slot, await asyncio.to_thread(_read_voice, Path(text).expanduser(), 0), None)

            self.spawn(job(), peer, "/dexbridge/morph/slot")

    def fill_slot(self, peer: Peer | None, slot: int, voice: Voice, latent: np.ndarray | None = None) -> None:
        """Put a voice into a morph slot (its latent point computed off the loop when not given)."""
        self.spawn(self._set_slot(peer, slot, voice, latent), peer, "/dexbridge/morph/slot")

    async def _set_slot(self, peer: Peer | None, slot: int, voice: Voice, latent: np.ndarray | None) -> None:
        point = latent if latent is not None else await asyncio.to_thread(self.engine.encode, voice)
        self.state.slots[slot] = Slot(voice, point)
        detail = f"{SLOT_NAMES[slot]} = {voice.name.strip()}"
        if peer is None:
            self.server.broadcast("/dexbridge/done", "/dexbridge/morph/slot", detail)
        else:
            self.server.reply(peer, "/dexbridge/done", "/dexbridge/morph/slot", detail)

    def morph(self, peer: Peer, x: float, y: float | None = None) -> None:
        """Move the morph position: A -> B with x alone, the four corners with x and y."""
        for name, value in (("x", x), ("y", y)):
            if value is not None and not 0.0 <= value <= 1.0:
                raise RequestError(f"/dexbridge/morph: {name} = {value}, range 0..1")
        needed = 2 if y is None else 4
        empty = [SLOT_NAMES[i] for i in range(needed) if self.state.slots[i] is None]
        if empty:
            raise RequestError(f"/dexbridge/morph: slot(s) {', '.join(empty)} empty; fill them with "
                               f"/dexbridge/morph/slot SLOT SOURCE (bank index, .syx path or current)")
        corners = [slot.latent for slot in self.state.slots[:needed] if slot is not None]
        self._control_peer = peer
        if y is None:
            self.control.set("morph", np.array([x]), lambda p: interpolate(corners[0], corners[1], float(p[0])))
        else:
            self.control.set("morph", np.array([x, y]), lambda p: morph_2d(corners, float(p[0]), float(p[1])))

    def voice_load(self, peer: Peer, path: str, index: int = 0) -> None:
        """Make voice ``index`` of a ``.syx`` file the current voice."""
        async def job() -> None:
            self.apply_voice(await asyncio.to_thread(_read_voice, Path(path).expanduser(), index))

        self.spawn(job(), peer, "/dexbridge/voice/load")

    def voice_save(self, peer: Peer, path: str) -> None:
        """Write the current voice as a single voice dump."""
        self._write(peer, "/dexbridge/voice/save", path, [encode_voice_dump(self.state.voice, self.settings.midi_channel)])

    def bank_load(self, peer: Peer, path: str) -> None:
        """Load a bank for program changes and morph slots (fewer than 32 voices: the rest INIT VOICE)."""
        async def job() -> None:
            contents = await asyncio.to_thread(read_syx_voices, Path(path).expanduser())
            self.load_bank([item.voice for item in contents.voices], path)
            self.server.reply(peer, "/dexbridge/done", "/dexbridge/bank/load", f"{len(contents.voices)} voices from {path}")

        self.spawn(job(), peer, "/dexbridge/bank/load")

    def load_bank(self, voices: Sequence[Voice], source: str) -> None:
        """Replace the loaded bank (MIDI bank dumps come here too)."""
        if not voices:
            raise RequestError(f"{source}: no voices in it")
        self.state.bank = [*voices[:BANK_SIZE], *(Voice.init() for _ in range(BANK_SIZE - len(voices)))]

    def bank_save(self, peer: Peer, path: str) -> None:
        """Write the loaded bank as a 32-voice bulk dump."""
        self._write(peer, "/dexbridge/bank/save", path, [encode_bank_dump(self.state.bank, self.settings.midi_channel)])

    def dump(self, peer: Peer, path: str, what: str = "voice") -> None:
        """DAW dump of the current voice, or of the four morph slots as a bank."""
        if what == "voice":
            self._write(peer, "/dexbridge/dump", path, [encode_voice_dump(self.state.voice, self.settings.midi_channel)])
        elif what == "slots":
            voices = [slot.voice if slot else Voice.init() for slot in self.state.slots]
            voices += [Voice.init() for _ in range(BANK_SIZE - len(voices))]
            self._write(peer, "/dexbridge/dump", path, [encode_bank_dump(voices, self.settings.midi_channel)])
        else:
            raise RequestError(f"/dexbridge/dump: what = {what!r}, choose voice or slots")

    def program(self, peer: Peer | None, number: int) -> None:
        """Make a voice of the loaded bank current (OSC or a MIDI program change)."""
        self.apply_voice(self._bank_voice(number, "/dexbridge/program"))

    def note(self, peer: Peer, note: int, velocity: int = 100, seconds: float = 1.0) -> None:
        """Audition the current voice on the embedded synth (the one among the sinks, else a private one)."""
        if not 0 <= note <= 127 or not 1 <= velocity <= 127 or not 0.05 <= seconds <= 10.0:
            raise RequestError(f"/dexbridge/note: note {note} (0..127), velocity {velocity} (1..127), seconds {seconds} (0.05..10)")
        from bridge.sinks.embedded import EmbeddedSynth

        sinks = [sink for output in self.outputs for sink in getattr(output, "sinks", ()) if isinstance(sink, EmbeddedSynth)]
        if sinks:
            synth = sinks[0]
        else:
            if self.audition is None:
                self.audition = EmbeddedSynth(device=self.settings.output_device)
            synth = self.audition
            synth.send(encode_voice_dump(self.state.voice, 0))

        async def job() -> None:
            await asyncio.to_thread(synth.play, note, velocity, note_seconds=seconds, render_seconds=seconds + 0.5)
            self.server.reply(peer, "/dexbridge/done", "/dexbridge/note", f"{note} {velocity} {seconds:g} s on {synth.name}")

        self.spawn(job(), peer, "/dexbridge/note")

    def mode(self, peer: Peer, *modes: str) -> None:
        """Set the output modes."""
        unknown = [m for m in modes if m not in OUTPUT_MODES]
        if unknown:
            raise RequestError(f"/dexbridge/mode: unknown mode(s) {unknown}; choose from {', '.join(OUTPUT_MODES)}")
        self.state.modes = tuple(dict.fromkeys(modes))
        for output in self.outputs:
            output.set_modes(self.state.modes)
        self.server.reply(peer, "/dexbridge/done", "/dexbridge/mode", " ".join(self.state.modes) or "(silent)")

    # ----- helpers ----------------------------------------------------------------------------

    def _bank_voice(self, number: int, address: str) -> Voice:
        if not 0 <= number < len(self.state.bank):
            raise RequestError(f"{address}: bank index {number}, range 0..{len(self.state.bank) - 1}")
        return self.state.bank[number]

    def _write(self, peer: Peer, address: str, path: str, messages: list[bytes]) -> None:
        async def job() -> None:
            target = Path(path).expanduser()
            await asyncio.to_thread(write_file, target, messages)
            self.server.reply(peer, "/dexbridge/done", address, str(target))

        self.spawn(job(), peer, address)


def _read_audio(path: Path) -> tuple[np.ndarray, int]:
    import soundfile

    if not path.is_file():
        raise RequestError(f"audio file {path} not found; give a path the daemon can read (absolute, or relative to its directory)")
    try:
        audio, sample_rate = soundfile.read(path, dtype="float32", always_2d=False)
    except soundfile.LibsndfileError as exc:
        raise RequestError(f"audio file {path}: {exc} (WAV, FLAC, OGG and AIFF are read)") from None
    return audio, int(sample_rate)


def _read_voice(path: Path, index: int) -> Voice:
    if not path.is_file():
        raise RequestError(f"voice file {path} not found; give an existing .syx path")
    voices = read_syx_voices(path).voices
    if not 0 <= index < len(voices):
        raise RequestError(f"{path.name}: voice {index}, the file holds {len(voices)} voices (0..{len(voices) - 1})")
    return voices[index].voice


def _as_request_error(exc: BaseException) -> BaseException:
    """I/O failures are the request's problem (a path), not the daemon's: report them as such."""
    if isinstance(exc, OSError) and not isinstance(exc, DexbridgeError):
        return RequestError(f"{exc.filename or 'file'}: {exc.strerror or exc}")
    return exc
