"""The live bridge: its state, the requests in flight, and what happens to every new voice.

Each OSC address is bound to the method that serves it in one table, :meth:`BridgeSession.routes`
(checked against ``OSC_ROUTES`` at startup): a method of the session (audio, status, modes,
auditions), of its :class:`~bridge.daemon.controls.Controls` (latent, macros, morph) or of its
:class:`~bridge.daemon.voices.LoadedVoices` (voices, banks, slots, dumps); each takes the sender
then the checked arguments and returns at once: model work goes through the engine's worker or the
control loop, file work through ``asyncio.to_thread`` in a tracked task; anything refused raises
(or, from a task, is reported) as ``/dexbridge/error``. Every new voice, whatever its source, goes
through :meth:`BridgeSession.apply_voice`: each output first, then the OSC replies.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bridge.daemon.controls import Controls
from bridge.daemon.files import FileArea
from bridge.daemon.settings import OUTPUT_MODES, Settings
from bridge.daemon.state import BridgeState, Engine, Output, RequestError, Worker
from bridge.daemon.voices import LoadedVoices
from bridge.midi.sysex import encode_voice_dump
from bridge.osc.namespace import check_bound
from bridge.osc.replies import Peer
from bridge.osc.server import OscRequest, OscServer
from bridge.osc.uploads import UploadError, Uploads, parse_upload_id
from models.errors import DexbridgeError
from models.params import BY_INDEX, VOICE_PARAMS, to_host_value, transpose_note
from models.voice import Voice

logger = logging.getLogger(__name__)

MAX_TASKS = 32  # file and audio requests in flight; more are refused as busy


class BridgeSession:
    """The operations behind the OSC namespace (and MIDI in), on one :class:`BridgeState`.

    Args:
        settings: the resolved daemon settings.
        engine: the loaded model.
        worker: the engine's asyncio face.
        server: replies and error reports go through it.
        outputs: MIDI-side destinations of every new voice.
        files: the folders OSC requests may read and write.
    """

    def __init__(self, settings: Settings, engine: Engine, worker: Worker, server: OscServer, outputs: Sequence[Output],
                 files: FileArea) -> None:
        self.settings = settings
        self.files = files
        self.engine = engine
        self.worker = worker
        self.server = server
        self.outputs = list(outputs)
        self.state = BridgeState(modes=settings.mode)
        self.uploads = Uploads(settings.upload_limit, settings.upload_timeout_s, per_client=settings.client_uploads)
        self.tasks: set[asyncio.Task[None]] = set()
        self.searches = 0  # inferences started; a search stops when a newer one starts
        self.search: dict[str, Any] | None = None  # the running search's best so far, for /dexbridge/status
        self.controls = Controls(self)
        self.voices = LoadedVoices(self)
        self.handlers = check_bound(self.routes())
        self.audition: Any = None  # a private embedded synth for /dexbridge/note, made on first use
        self._upload_peers: dict[tuple[str, int], Peer] = {}
        self._inferences: collections.Counter[str] = collections.Counter()  # in flight per client address
        self._expiry: asyncio.TimerHandle | None = None
        from engine.pitch import FMIN_HZ  # the engine is loaded by now

        self._note_seconds = engine.seconds_heard(FMIN_HZ)  # what a file read holds: the lowest pitch is shifted most

    # ----- dispatch and tasks -----------------------------------------------------------------

    def routes(self) -> dict[str, Callable[..., None]]:
        """Every address of the namespace and the method that serves it (``handler(peer, *checked_args)``)."""
        controls, voices = self.controls, self.voices
        return {
            "/dexbridge/ping": self.ping,
            "/dexbridge/status": self.status,
            "/dexbridge/infer/file": self.infer_file,
            "/dexbridge/infer/takes": self.infer_takes,
            "/dexbridge/infer/blob": self.infer_blob,
            "/dexbridge/upload/begin": self.upload_begin,
            "/dexbridge/upload/chunk": self.upload_chunk,
            "/dexbridge/upload/end": self.upload_end,
            "/dexbridge/capture": self.capture,
            "/dexbridge/latent": controls.latent,
            "/dexbridge/macro": controls.macro,
            "/dexbridge/morph/slot": voices.morph_slot,
            "/dexbridge/morph": controls.morph,
            "/dexbridge/voice/load": voices.voice_load,
            "/dexbridge/voice/save": voices.voice_save,
            "/dexbridge/bank/load": voices.bank_load,
            "/dexbridge/bank/save": voices.bank_save,
            "/dexbridge/dump": voices.dump,
            "/dexbridge/program": voices.program,
            "/dexbridge/note": self.note,
            "/dexbridge/monitor": self.monitor,
            "/dexbridge/resync": self.resync,
            "/dexbridge/mode": self.mode,
        }

    def handle(self, request: OscRequest) -> None:
        """The OSC server's handler: call the method bound to the address with the checked arguments."""
        self.handlers[request.address](request.peer, *request.args)

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
                self.refuse(peer, exc, address)

        task = asyncio.get_running_loop().create_task(guarded(), name=f"dexbridge{address}")
        self.tasks.add(task)  # a hard reference, or the task may be garbage-collected mid-flight
        task.add_done_callback(self.tasks.discard)
        return task

    def spawn_inference(self, job: Coroutine[Any, Any, None], peer: Peer, address: str) -> None:
        """:meth:`spawn` an inference, at most ``client_jobs`` in flight per client address, so one
        client flooding requests leaves the queue to the others.

        Raises:
            RequestError: this client has ``client_jobs`` inferences in flight (the job is not started).
        """
        client = peer.key[0]
        try:
            self._check_client_jobs(client)
        except RequestError:
            job.close()
            raise
        self._inferences[client] += 1

        def finished(_: asyncio.Task[None]) -> None:
            self._inferences[client] -= 1
            if not self._inferences[client]:
                del self._inferences[client]

        self.spawn(job, peer, address).add_done_callback(finished)

    def _check_client_jobs(self, client: str) -> None:
        limit = self.settings.client_jobs
        if self._inferences[client] >= limit:
            raise RequestError(f"busy: {self._inferences[client]} inferences from {client} in flight (at most {limit} "
                               f"per client, --client-jobs); wait for /dexbridge/inferred before sending more")

    def close(self) -> None:
        """Release what the session made itself: end a running search, the upload expiry timer, the audition synth."""
        self.end_search()
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
            self.controls.new_voice()
        for output in self.outputs:  # MIDI first: its first byte is the latency that matters
            output.send_voice(voice)
        changes = previous.diff(voice)
        self.server.broadcast("/dexbridge/voice", voice.vced)
        replies: list[tuple[str, tuple[Any, ...]]] = [("/dexbridge/param", (i, v)) for i, v in changes.items()]
        if "osc" in self.state.modes:
            replies += [("/dexbridge/host_param", (BY_INDEX[i].dexed_name, to_host_value(BY_INDEX[i], v)))
                        for i, v in changes.items() if BY_INDEX[i].dexed_name]
        self.server.broadcast_bundle(replies)

    def resync(self, peer: Peer) -> None:
        """Send the whole current voice again (:meth:`resend`), then answer ``/dexbridge/done``; or
        ``/dexbridge/error`` when the named MIDI port is not connected, so the voice did not reach it
        (:func:`~bridge.daemon.resync.unreached_port`: a dropped JACK connection is made again first)."""
        from bridge.daemon.resync import unreached_port

        unreached = unreached_port(self.settings, self.outputs)
        voice = self.resend("/dexbridge/resync")
        if unreached is not None:
            raise RequestError(f"/dexbridge/resync: {unreached}, so '{voice.name.strip()}' did not reach it; "
                               "it gets the whole voice when it is back")
        self.server.reply(peer, "/dexbridge/done", "/dexbridge/resync", f"'{voice.name.strip()}' sent whole")

    def resend(self, reason: str) -> Voice:
        """Send the whole current voice the way the active modes would, so a synth that restarted or
        lost messages is back in step; ``reason`` goes to the log. Returns the voice sent."""
        voice = self.state.voice
        for output in self.outputs:
            output.resync(voice)
        self.server.broadcast("/dexbridge/voice", voice.vced)
        if "osc" in self.state.modes:
            self.server.broadcast_bundle([("/dexbridge/host_param", (spec.dexed_name, to_host_value(spec, voice[spec.index])))
                                          for spec in VOICE_PARAMS if spec.dexed_name])
        logger.info("resync: '%s' sent whole in modes %s (%s)", voice.name.strip(), ", ".join(self.state.modes) or "(none)",
                    reason)
        return voice

    def slots_changed(self) -> None:
        """A morph slot was filled: the controls plan the paths through it."""
        self.controls.slots_changed()

    def refuse(self, peer: Peer | None, exc: BaseException, address: str) -> None:
        """Answer a failed request with ``/dexbridge/error`` (I/O errors count as the request's fault)."""
        self.server.refuse(peer, _as_request_error(exc), address)

    def report(self, exc: BaseException, source: str) -> None:
        """A failure with no requester (MIDI in, a sink): log, count, and tell every client."""
        self.server.refuse(None, exc, source)
        message = str(exc) if isinstance(exc, DexbridgeError) else f"{source}: internal error {type(exc).__name__}"
        self.server.broadcast("/dexbridge/error", f"{source}: {message}")

    async def _infer(self, peer: Peer, audio: np.ndarray, sample_rate: int) -> None:
        await self._answer(peer, lambda **options: self.worker.infer(audio, sample_rate, **options))

    async def _answer(self, peer: Peer, run: Callable[..., Awaitable[Any]]) -> None:
        """Infer off the loop (``run`` is the worker call, given the options below); each better voice
        the search finds is applied at once (and announced with ``/dexbridge/better``) until the search
        ends or a newer inference starts."""
        loop = asyncio.get_running_loop()
        self.searches += 1
        number = self.searches

        def on_better(better: Any) -> None:  # on the worker thread
            loop.call_soon_threadsafe(self._better, peer, number, better)

        inference = await run(on_better=on_better, should_stop=lambda: self.searches != number)
        if self.searches == number:
            self.search = None
            if inference.voice != self.state.voice:
                self.apply_voice(inference.voice, inference.latent)
        diag = inference.diagnostics
        self.server.reply(peer, "/dexbridge/inferred", float(diag.f0_hz or 0.0), float(diag.level_db), str(diag.backend),
                          float(diag.voice_f0_hz or 0.0), float(diag.cents or 0.0), diag.pitch, diag.source,
                          float(diag.spec_mae[1]))
        logger.info("inferred: '%s' from %s, MAE %.3f, %s, transpose %s (%+d semitones), %d renders, %.0f ms",
                    inference.voice.name.strip(), diag.source, diag.spec_mae[1], _pitch_words(diag),
                    transpose_note(inference.voice["transpose"]), diag.transpose, diag.renders,
                    diag.timings_ms.get("total", 0.0))

    def end_search(self) -> None:
        """Ask a running search to stop: its request is answered with the best voice found so far."""
        self.searches += 1

    def _better(self, peer: Peer, number: int, better: Any) -> None:
        if self.searches != number:
            return  # a newer inference started: this search's voices are stale
        diag = better.diagnostics
        self.search = {"source": diag.source, "spec_mae": round(float(diag.spec_mae[1]), 4), "renders": diag.renders}
        self.apply_voice(better.voice, better.latent)
        self.server.reply(peer, "/dexbridge/better", diag.source, float(diag.spec_mae[1]), float(diag.cents or 0.0),
                          int(diag.renders))

    # ----- the namespace ----------------------------------------------------------------------

    def ping(self, peer: Peer) -> None:
        """Answer ``/dexbridge/pong``."""
        logger.debug("ping from %s", peer.key[0])
        self.server.reply(peer, "/dexbridge/pong")

    def monitor(self, peer: Peer, seconds: float = 60.0) -> None:
        """Subscribe ``peer`` to everything the daemon says, for ``seconds``."""
        if not 1.0 <= seconds <= 3600.0:
            raise RequestError(f"/dexbridge/monitor: {seconds:g} s, range 1..3600 (send it again to stay subscribed)")
        self.server.monitor(peer, seconds)
        self.server.reply(peer, "/dexbridge/done", "/dexbridge/monitor", f"everything the daemon says, for {seconds:g} s")

    def status(self, peer: Peer) -> None:
        """Answer ``/dexbridge/status`` with the state as JSON."""
        state = self.state
        report = {
            "voice": state.voice.name.strip(),
            "modes": list(state.modes),
            "slots": [slot.voice.name.strip() if slot else None for slot in state.slots],
            "bank": [voice.name.strip() for voice in state.bank],
            "backend": self.engine.backend_name,
            "engine_threads": self.engine.threads,
            "latent_dim": self.engine.latent_dim,
            "macros": self.engine.macro_count,
            "voices_applied": state.voices_applied,
            "control_steps": self.controls.loop.steps,
            "morph": self.controls.status(),
            "requests_in_flight": len(self.tasks),
            "search": self.search,
            "uploads_open": len(self.uploads),
            "files": {"read": [str(folder) for folder in self.files.folders], "write": str(self.files.write_folder)},
            "refused_peers": dict(self.server.refused_peers),
            "outputs": [output.status() for output in self.outputs],
            "uptime_s": round(time.monotonic() - state.started, 3),
            "osc": dict(self.server.stats),
            "settings": self.settings.to_dict(),
        }
        self.server.reply(peer, "/dexbridge/status", json.dumps(report))

    def infer_file(self, peer: Peer, path: str) -> None:
        """Infer a voice from an audio file in the files folder, read off the loop."""
        async def job() -> None:
            audio, sample_rate = await asyncio.to_thread(_read_audio, self.files, path, self._note_seconds)
            await self._infer(peer, audio, sample_rate)

        self.spawn_inference(job(), peer, "/dexbridge/infer/file")

    def infer_blob(self, peer: Peer, blob: bytes, sample_rate: int) -> None:
        """Infer a voice from float32 mono samples carried in the message."""
        if not blob or len(blob) % 4:
            raise RequestError(f"/dexbridge/infer/blob: {len(blob)} B is not a whole number of float32 samples (4 B each)")
        self.spawn_inference(self._infer(peer, np.frombuffer(blob, dtype="<f4").astype(np.float32), sample_rate), peer,
                             "/dexbridge/infer/blob")

    def upload_begin(self, peer: Peer, upload_id: int, total: int, sample_rate: int) -> None:
        """Open a chunked upload; one left without a chunk for ``upload_timeout_s`` is dropped and reported."""
        self.uploads.begin(upload_id, total, sample_rate, time.monotonic(), client=peer.key[0])
        self._upload_peers[peer.key[0], upload_id] = peer
        if self._expiry is None:
            self._arm_expiry()

    def _arm_expiry(self) -> None:
        """Wake when the idlest upload reaches ``upload_timeout_s`` without a chunk (a chunk since then only
        means waking once more for nothing)."""
        due = self.uploads.next_expiry()
        if due is not None:
            self._expiry = asyncio.get_running_loop().call_later(max(due - time.monotonic(), 0.0), self._expire_uploads)

    def _expire_uploads(self) -> None:
        self._expiry = None
        for client, upload_id in self.uploads.expire(time.monotonic()):
            expired = UploadError(f"upload {upload_id}: no chunk for {self.settings.upload_timeout_s:g} s, dropped; begin again")
            self.server.refuse(self._upload_peers.pop((client, upload_id), None), expired, "/dexbridge/upload")
        self._arm_expiry()

    def upload_chunk(self, peer: Peer, upload_id: int, offset: int, data: bytes) -> None:
        """Append one chunk to an upload (one that overflows is dropped)."""
        try:
            self.uploads.chunk(upload_id, offset, data, time.monotonic(), client=peer.key[0])
        finally:
            if not self.uploads.is_open(upload_id, peer.key[0]):
                self._upload_peers.pop((peer.key[0], upload_id), None)

    def upload_end(self, peer: Peer, upload_id: int) -> None:
        """Finish an upload and infer a voice from it (a busy client's upload stays open: send end again later)."""
        self._check_client_jobs(peer.key[0])
        finished = self.uploads.end(upload_id, client=peer.key[0])
        self._upload_peers.pop((peer.key[0], upload_id), None)
        self.spawn_inference(self._infer(peer, finished.audio, finished.sample_rate), peer, "/dexbridge/upload/end")

    def infer_takes(self, peer: Peer, takes: str) -> None:
        """One voice from several takes of a sound, each scored at its own note and velocity:
        ``"PATH:NOTE:VELOCITY ..."`` files in the files folder, or ``upload:ID:NOTE:VELOCITY`` uploads
        whose every chunk has arrived (not ended: this request takes them)."""
        specs = parse_takes(takes)
        self._check_client_jobs(peer.key[0])
        held = {spec.upload: self.uploads.end(spec.upload, client=peer.key[0]) for spec in specs if spec.upload is not None}

        async def job() -> None:
            from engine.takes import Take  # the engine's input type; the engine is loaded by now

            recordings = []
            for spec in specs:
                if spec.upload is not None:
                    audio, sample_rate = held[spec.upload].audio, held[spec.upload].sample_rate
                else:
                    audio, sample_rate = await asyncio.to_thread(_read_audio, self.files, spec.path, self._note_seconds)
                recordings.append(Take(audio, sample_rate, spec.note, spec.velocity))
            await self._answer(peer, lambda **options: self.worker.infer_takes(recordings, **options))

        self.spawn_inference(job(), peer, "/dexbridge/infer/takes")

    def capture(self, peer: Peer, seconds: float) -> None:
        """Record the audio input, then infer a voice from it."""
        from bridge.daemon.capture import record  # sounddevice loads PortAudio: only when capturing

        async def job() -> None:
            recording = await record(seconds, self.settings.input_device)
            await self._infer(peer, recording.audio, recording.sample_rate)

        self.spawn_inference(job(), peer, "/dexbridge/capture")

    def note(self, peer: Peer, note: int, velocity: int = 100, seconds: float = 1.0) -> None:
        """Audition the current voice on the embedded synth (the one among the sinks, else a private one).

        The note replaces the one playing; :data:`~bridge.sinks.embedded.MAX_WAITING` notes may wait
        their turn, more are refused as busy. ``/dexbridge/done`` answers once it sounds.
        """
        if not 0 <= note <= 127 or not 1 <= velocity <= 127 or not 0.05 <= seconds <= 10.0:
            raise RequestError(f"/dexbridge/note: note {note} (0..127), velocity {velocity} (1..127), seconds {seconds} (0.05..10)")
        from bridge.sinks.embedded import EmbeddedSynth, PlayerBusy  # sounddevice loads PortAudio: only when playing
        synth = next((found for output in self.outputs if (found := output.embedded_synth()) is not None), None)
        if synth is None:
            if self.audition is None:
                self.audition = EmbeddedSynth(device=self.settings.output_device)
            synth = self.audition
            synth.send(encode_voice_dump(self.state.voice, 0))
        try:
            playing = synth.submit(note, velocity, note_seconds=seconds, render_seconds=seconds + 0.5)
        except PlayerBusy as exc:
            raise RequestError(f"/dexbridge/note: {exc}") from None

        async def job() -> None:
            await asyncio.wrap_future(playing)
            logger.info("note %d velocity %d, %g s: '%s' on %s", note, velocity, seconds, self.state.voice.name.strip(),
                        synth.name)
            self.server.reply(peer, "/dexbridge/done", "/dexbridge/note", f"{note} {velocity} {seconds:g} s on {synth.name}")

        try:
            self.spawn(job(), peer, "/dexbridge/note")
        except RequestError:
            playing.cancel()  # refused: it must not sound unanswered
            raise

    def mode(self, peer: Peer, *modes: str) -> None:
        """Set the output modes."""
        unknown = [m for m in modes if m not in OUTPUT_MODES]
        if unknown:
            raise RequestError(f"/dexbridge/mode: unknown mode(s) {unknown}; choose from {', '.join(OUTPUT_MODES)}")
        self.state.modes = tuple(dict.fromkeys(modes))
        for output in self.outputs:
            output.set_modes(self.state.modes)
        logger.info("modes: %s", ", ".join(self.state.modes) or "none (silent)")
        self.server.reply(peer, "/dexbridge/done", "/dexbridge/mode", " ".join(self.state.modes) or "(silent)")

def _read_audio(files: FileArea, name: str, seconds: float) -> tuple[np.ndarray, int]:
    """The note in an audio file of the files folder, read only ``seconds`` past its onset: a long
    recording costs the daemon the memory of a few seconds, not of the file.

    Raises:
        FileAreaError: outside the files folder, or missing.
        AudioFileError: undecodable or empty.
    """
    from bridge.audio_file import read_note

    path = files.resolve_read(name)
    if path.is_dir():
        raise RequestError(f"audio file {path} is a folder, not a file: name a WAV, FLAC, OGG or AIFF file in it")
    excerpt = read_note(path, seconds)
    if excerpt.stop_s - excerpt.start_s < excerpt.file_s - 0.05:
        logger.info("read %.1f-%.1f s of the %.1f s of %s (the note from its onset; the rest is not used)",
                    excerpt.start_s, excerpt.stop_s, excerpt.file_s, path.name)
    return excerpt.audio, excerpt.sample_rate


def _as_request_error(exc: BaseException) -> BaseException:
    """I/O failures are the request's problem (a path), not the daemon's: report them as such."""
    if isinstance(exc, OSError) and not isinstance(exc, DexbridgeError):
        return RequestError(f"{exc.filename or 'file'}: {exc.strerror or exc}")
    return exc


def _pitch_words(diag: Any) -> str:
    if diag.cents is None:
        return diag.pitch
    return f"f0 {diag.f0_hz:.1f} Hz, voice {diag.voice_f0_hz:.1f} Hz ({diag.cents:+.1f} cents)"


@dataclass(frozen=True)
class TakeRequest:
    """One take named in ``/dexbridge/infer/takes``: a file or an upload, its note and velocity."""

    path: str
    upload: int | None
    note: int | None
    velocity: int


MAX_TAKES = 16
MAX_NUMBER_DIGITS = 3  # a take's note (0..127) and velocity (1..127)


def _is_number(text: str) -> bool:
    """ASCII digits, at most ``MAX_NUMBER_DIGITS`` (``str.isdigit`` alone also passes '²', which int() refuses)."""
    return 0 < len(text) <= MAX_NUMBER_DIGITS and text.isascii() and text.isdigit()


def parse_takes(text: str) -> list[TakeRequest]:
    """``"PATH[:NOTE[:VELOCITY]] upload:ID[:NOTE[:VELOCITY]] ..."`` (space-separated; no spaces in paths).

    Raises:
        RequestError: no take, too many, a note / velocity that is not a whole number in range, or an
            upload id that is not one (0..``MAX_UPLOAD_ID``).
    """
    items = text.split()
    if not 1 <= len(items) <= MAX_TAKES:
        raise RequestError(f"/dexbridge/infer/takes: {len(items)} takes; give 1 to {MAX_TAKES} as "
                           "'PATH:NOTE:VELOCITY' or 'upload:ID:NOTE:VELOCITY', separated by spaces")
    requests = []
    for item in items:
        upload = item.startswith("upload:")
        head, *numbers = item.split(":")[1:] if upload else item.rsplit(":", 2)
        if not upload:
            while numbers and not _is_number(numbers[0]):  # a ':' inside the path
                head, numbers = f"{head}:{numbers[0]}", numbers[1:]
        shown = repr(item) if len(item) <= 80 else f"{item[:80]!r}... ({len(item)} characters)"
        if len(numbers) > 2 or not all(map(_is_number, numbers)) or (upload and not (head.isascii() and head.isdigit())):
            raise RequestError(f"/dexbridge/infer/takes: {shown} is not PATH:NOTE:VELOCITY or upload:ID:NOTE:VELOCITY "
                               f"(note 0..127, velocity 1..127: whole numbers)")
        try:
            upload_id = parse_upload_id(head) if upload else None
        except UploadError as exc:
            raise RequestError(f"/dexbridge/infer/takes: {exc}") from None
        note = int(numbers[0]) if numbers else None
        velocity = int(numbers[1]) if len(numbers) > 1 else 100
        if (note is not None and note > 127) or not 1 <= velocity <= 127:
            raise RequestError(f"/dexbridge/infer/takes: {shown}: note 0..127 (60 = middle C), velocity 1..127")
        requests.append(TakeRequest("" if upload else head, upload_id, note, velocity))
    return requests
