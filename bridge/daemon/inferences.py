"""Audio in, voices out: ``/dexbridge/infer/file|blob|takes``, ``/dexbridge/upload/begin|chunk|end`` and
``/dexbridge/capture``. Each inference runs off the loop (the engine's worker), at most ``client_jobs`` in
flight per client; its search streams every better voice it finds (``/dexbridge/better``) until it ends or
a newer inference starts, and the request is answered ``/dexbridge/inferred``. Files are read inside the
files folder, only the note's first seconds; uploads left without a chunk expire.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import numpy as np

from bridge.daemon.state import Files, RequestError, SessionHost
from bridge.osc.replies import Peer
from bridge.osc.uploads import UploadError, Uploads, parse_upload_id
from models.params import transpose_note

logger = logging.getLogger("bridge.daemon.session")  # its lines kept the session's logger when they moved here


class Inferences:
    """The audio addresses of one session, the inferences in flight and the uploads open.

    Args:
        session: the bridge; new voices go to its ``apply_voice``, slow parts to its ``spawn``.
    """

    def __init__(self, session: SessionHost) -> None:
        from engine.pitch import FMIN_HZ  # the engine is loaded by now

        self.session = session
        settings = session.settings
        self.uploads = Uploads(settings.upload_limit, settings.upload_timeout_s, per_client=settings.client_uploads)
        self.searches = 0  # inferences started; a search stops when a newer one starts
        self.search: dict[str, Any] | None = None  # the running search's best so far, for /dexbridge/status
        self._upload_peers: dict[tuple[str, int], Peer] = {}
        self._inferences: collections.Counter[str] = collections.Counter()  # in flight per client address
        self._expiry: asyncio.TimerHandle | None = None
        self._note_seconds = session.engine.seconds_heard(FMIN_HZ)  # what a file read holds: the lowest pitch is shifted most

    def close(self) -> None:
        """End a running search and the upload expiry timer."""
        self.end_search()
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

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

        self.session.spawn(job, peer, address).add_done_callback(finished)

    def _check_client_jobs(self, client: str) -> None:
        limit = self.session.settings.client_jobs
        if self._inferences[client] >= limit:
            raise RequestError(f"busy: {self._inferences[client]} inferences from {client} in flight (at most {limit} "
                               f"per client, --client-jobs); wait for /dexbridge/inferred before sending more")

    async def _infer(self, peer: Peer, audio: np.ndarray, sample_rate: int) -> None:
        await self._answer(peer, lambda **options: self.session.worker.infer(audio, sample_rate, **options))

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
            if inference.voice != self.session.state.voice:
                self.session.apply_voice(inference.voice, inference.latent)
        diag = inference.diagnostics
        self.session.server.reply(peer, "/dexbridge/inferred", float(diag.f0_hz or 0.0), float(diag.level_db), str(diag.backend),
                          float(diag.voice_f0_hz or 0.0), float(diag.cents or 0.0), diag.pitch, diag.source,
                          float(diag.distance[1]))
        logger.info("inferred: '%s' from %s, distance %.3f, %s, transpose %s (%+d semitones), %d renders, %.0f ms",
                    inference.voice.name.strip(), diag.source, diag.distance[1], _pitch_words(diag),
                    transpose_note(inference.voice["transpose"]), diag.transpose, diag.renders,
                    diag.timings_ms.get("total", 0.0))

    def end_search(self) -> None:
        """Ask a running search to stop: its request is answered with the best voice found so far."""
        self.searches += 1

    def _better(self, peer: Peer, number: int, better: Any) -> None:
        if self.searches != number:
            return  # a newer inference started: this search's voices are stale
        diag = better.diagnostics
        self.search = {"source": diag.source, "distance": round(float(diag.distance[1]), 4), "renders": diag.renders}
        self.session.apply_voice(better.voice, better.latent)
        self.session.server.reply(peer, "/dexbridge/better", diag.source, float(diag.distance[1]), float(diag.cents or 0.0),
                          int(diag.renders))

    def infer_file(self, peer: Peer, path: str) -> None:
        """Infer a voice from an audio file in the files folder, read off the loop."""
        async def job() -> None:
            audio, sample_rate = await asyncio.to_thread(_read_audio, self.session.files, path, self._note_seconds)
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
            timeout_s = self.session.settings.upload_timeout_s
            expired = UploadError(f"upload {upload_id}: no chunk for {timeout_s:g} s, dropped; begin again")
            self.session.server.refuse(self._upload_peers.pop((client, upload_id), None), expired, "/dexbridge/upload")
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
                    audio, sample_rate = await asyncio.to_thread(_read_audio, self.session.files, spec.path, self._note_seconds)
                recordings.append(Take(audio, sample_rate, spec.note, spec.velocity))
            await self._answer(peer, lambda **options: self.session.worker.infer_takes(recordings, **options))

        self.spawn_inference(job(), peer, "/dexbridge/infer/takes")

    def capture(self, peer: Peer, seconds: float) -> None:
        """Record the audio input, then infer a voice from it."""
        from bridge.daemon.capture import record  # sounddevice loads PortAudio: only when capturing

        async def job() -> None:
            recording = await record(seconds, self.session.settings.input_device)
            await self._infer(peer, recording.audio, recording.sample_rate)

        self.spawn_inference(job(), peer, "/dexbridge/capture")


def _read_audio(files: Files, name: str, seconds: float) -> tuple[np.ndarray, int]:
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
