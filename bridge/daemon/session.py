"""The live bridge: its state, the requests in flight, and what happens to every new voice.

Each OSC address is bound to the method that serves it in one table, :meth:`BridgeSession.routes`
(checked against ``OSC_ROUTES`` at startup): a method of the session (status, modes, resync,
auditions), of its :class:`~bridge.daemon.inferences.Inferences` (audio in: files, blobs, uploads, takes,
capture), of its :class:`~bridge.daemon.controls.Controls` (latent, macros, morph) or of its
:class:`~bridge.daemon.voices.LoadedVoices` (voices, banks, slots, dumps); each takes the sender
then the checked arguments and returns at once: model work goes through the engine's worker or the
control loop, file work through ``asyncio.to_thread`` in a tracked task; anything refused raises
(or, from a task, is reported) as ``/dexbridge/error``. Every new voice, whatever its source, goes
through :meth:`BridgeSession.apply_voice`: each output first, then the OSC replies.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import numpy as np

from bridge.daemon.controls import Controls
from bridge.daemon.files import FileArea
from bridge.daemon.inferences import Inferences
from bridge.daemon.settings import OUTPUT_MODES, Settings
from bridge.daemon.state import BridgeState, Output, RequestError, VoiceEngine, Worker
from bridge.daemon.voices import LoadedVoices
from bridge.midi.sysex import encode_voice_dump
from bridge.osc.namespace import check_bound
from bridge.osc.replies import Peer
from bridge.osc.server import OscRequest, OscServer
from models.errors import DexbridgeError
from models.params import BY_INDEX, VOICE_PARAMS, to_host_value
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

    def __init__(self, settings: Settings, engine: VoiceEngine, worker: Worker, server: OscServer, outputs: Sequence[Output],
                 files: FileArea) -> None:
        self.settings = settings
        self.files = files
        self.engine = engine
        self.worker = worker
        self.server = server
        self.outputs = list(outputs)
        self.state = BridgeState(modes=settings.mode)
        self.tasks: set[asyncio.Task[None]] = set()
        self.controls = Controls(self)
        self.voices = LoadedVoices(self)
        self.inferences = Inferences(self)
        self.uploads = self.inferences.uploads
        self.handlers = check_bound(self.routes())
        self.audition: Any = None  # a private embedded synth for /dexbridge/note, made on first use

    # ----- dispatch and tasks -----------------------------------------------------------------

    def routes(self) -> dict[str, Callable[..., None]]:
        """Every address of the namespace and the method that serves it (``handler(peer, *checked_args)``)."""
        controls, voices, inferences = self.controls, self.voices, self.inferences
        return {
            "/dexbridge/ping": self.ping,
            "/dexbridge/status": self.status,
            "/dexbridge/infer/file": inferences.infer_file,
            "/dexbridge/infer/takes": inferences.infer_takes,
            "/dexbridge/infer/blob": inferences.infer_blob,
            "/dexbridge/upload/begin": inferences.upload_begin,
            "/dexbridge/upload/chunk": inferences.upload_chunk,
            "/dexbridge/upload/end": inferences.upload_end,
            "/dexbridge/capture": inferences.capture,
            "/dexbridge/latent": controls.latent,
            "/dexbridge/macro": controls.macro,
            "/dexbridge/macros": controls.macros,
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

    def close(self) -> None:
        """Release what the session made itself: end a running search, the upload expiry timer, the audition synth."""
        self.inferences.close()
        if self.audition is not None:
            self.audition.close()
            self.audition = None

    # ----- new voices -------------------------------------------------------------------------

    def apply_voice(self, voice: Voice, latent: np.ndarray | None = None, *, from_macros: bool = False) -> None:
        """Make ``voice`` current: every output first, then the ``/dexbridge/voice`` and ``/dexbridge/param`` replies.

        Args:
            voice: the new voice.
            latent: its latent point, when known.
            from_macros: the macros made the voice (they keep their origin; any other voice restarts them).
        """
        previous, self.state.voice, self.state.latent = self.state.voice, voice, latent
        self.state.voices_applied += 1
        if not from_macros:
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
            "macro_names": list(self.engine.macro_names),
            "voices_applied": state.voices_applied,
            "control_steps": self.controls.loop.steps,
            "morph": self.controls.status(),
            "requests_in_flight": len(self.tasks),
            "search": self.inferences.search,
            "uploads_open": len(self.uploads),
            "files": {"read": [str(folder) for folder in self.files.folders], "write": str(self.files.write_folder)},
            "refused_peers": dict(self.server.refused_peers),
            "outputs": [output.status() for output in self.outputs],
            "uptime_s": round(time.monotonic() - state.started, 3),
            "osc": dict(self.server.stats),
            "settings": self.settings.to_dict(),
        }
        self.server.reply(peer, "/dexbridge/status", json.dumps(report))

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

def _as_request_error(exc: BaseException) -> BaseException:
    """I/O failures are the request's problem (a path), not the daemon's: report them as such."""
    if isinstance(exc, OSError) and not isinstance(exc, DexbridgeError):
        return RequestError(f"{exc.filename or 'file'}: {exc.strerror or exc}")
    return exc
