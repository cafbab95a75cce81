"""Chunked-upload reassembly for audio too big for one UDP datagram (sans-IO, no clock of its own).

A client sends ``/dexbridge/upload/begin id total samplerate``, then ``chunk id offset bytes`` in
order, then ``end id``. Each chunk's offset must equal the bytes received so far (UDP may drop or
reorder: the client is told exactly what was expected and resends); the total is bounded; an
upload with no chunk for ``timeout_s`` is dropped by :meth:`Uploads.expire` (:meth:`Uploads.next_expiry`
says when to call it). Ids are whole numbers 0..``MAX_UPLOAD_ID`` (an OSC int32) and belong to the
client that sent them (its address). Every refusal is an :class:`UploadError` whose message names
the id, the value and the expectation.

Places are shared so that a few clients cannot shut the others out: each client may have
``per_client`` uploads open; a client's first upload is refused only when ``MAX_UPLOAD_CLIENTS``
other clients have uploads open, and a further one whenever ``MAX_OPEN_UPLOADS`` are open in all.
A newcomer therefore finds a place while fewer than ``MAX_UPLOAD_CLIENTS`` other clients hold
one, however many uploads each of them holds, and no more than ``MAX_OPEN_UPLOADS +
MAX_UPLOAD_CLIENTS - 1`` are ever open.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.errors import DexbridgeError

SAMPLE_BYTES = 4  # float32
MAX_OPEN_UPLOADS = 8  # uploads open in all beyond which only a client's first is accepted
MAX_UPLOAD_CLIENTS = 8  # clients with uploads open at once
MAX_UPLOAD_ID = (1 << 31) - 1  # the largest OSC int32


class UploadError(DexbridgeError, ValueError):
    """A chunked upload that cannot go on: unknown id, wrong offset, too big, incomplete, expired."""


def parse_upload_id(text: str) -> int:
    """An upload id written out (``upload:ID`` in ``/dexbridge/infer/takes``).

    Raises:
        UploadError: anything but ASCII digits, or a number over ``MAX_UPLOAD_ID``.
    """
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_UPLOAD_ID)) or int(text) > MAX_UPLOAD_ID:
        shown = repr(text) if len(text) <= 20 else f"{text[:20]!r}... ({len(text)} characters)"
        raise UploadError(f"upload id {shown}: not a whole number in 0..{MAX_UPLOAD_ID} (the id /dexbridge/upload/begin gave)")
    return int(text)


@dataclass
class _Upload:
    total: int
    sample_rate: int
    last_seen: float
    data: bytearray = field(default_factory=bytearray)


@dataclass(frozen=True)
class FinishedUpload:
    """A complete upload: its id, float32 mono samples and their sample rate."""

    upload_id: int
    audio: np.ndarray
    sample_rate: int


class Uploads:
    """The uploads in progress, keyed by id.

    Args:
        limit: the largest accepted total, in bytes.
        timeout_s: an upload with no chunk for this long is dropped by :meth:`expire`.
        per_client: uploads one client may have open at once.
    """

    def __init__(self, limit: int, timeout_s: float, per_client: int = MAX_OPEN_UPLOADS) -> None:
        self.limit = limit
        self.timeout_s = timeout_s
        self.per_client = per_client
        self._open: dict[tuple[str, int], _Upload] = {}

    def __len__(self) -> int:
        return len(self._open)

    def is_open(self, upload_id: int, client: str = "") -> bool:
        """Whether ``client`` has upload ``upload_id`` open."""
        return (client, upload_id) in self._open

    def begin(self, upload_id: int, total: int, sample_rate: int, now: float, client: str = "") -> None:
        """Open an upload (replacing an open one of the same id from the same client).

        Args:
            client: who sends it (its address); ids of different clients never meet.

        Raises:
            UploadError: an id outside 0..``MAX_UPLOAD_ID``, a total outside 4..limit bytes or not whole
                float32 samples, a sample rate outside 8 000..192 000 Hz, or no place (see the module).
        """
        if not 0 <= upload_id <= MAX_UPLOAD_ID:
            raise UploadError(f"upload {upload_id}: id out of range 0..{MAX_UPLOAD_ID}")
        if not SAMPLE_BYTES <= total <= self.limit:
            raise UploadError(f"upload {upload_id}: total {total} B, range {SAMPLE_BYTES}..{self.limit} B "
                              f"(float32 mono; raise --upload-limit for longer audio)")
        if total % SAMPLE_BYTES:
            raise UploadError(f"upload {upload_id}: total {total} B is not a whole number of float32 samples (4 B each)")
        if not 8000 <= sample_rate <= 192_000:
            raise UploadError(f"upload {upload_id}: sample rate {sample_rate} Hz, range 8000..192000 Hz")
        key = (client, upload_id)
        if key not in self._open:
            self._check_place(upload_id, client)
        self._open[key] = _Upload(total, sample_rate, now)

    def _check_place(self, upload_id: int, client: str) -> None:
        """Refuse a new upload from ``client`` when it has no place (see the module docstring)."""
        mine = sum(1 for owner, _ in self._open if owner == client)
        if mine >= self.per_client:
            raise UploadError(f"upload {upload_id}: {mine} uploads already open from {client or 'this client'} "
                              f"(at most {self.per_client} per client, --client-uploads); end or let one expire first")
        if mine and len(self._open) >= MAX_OPEN_UPLOADS:
            raise UploadError(f"upload {upload_id}: {len(self._open)} uploads already open (a client's second one waits "
                              f"while {MAX_OPEN_UPLOADS} are open in all); end or let one expire first")
        clients = len({owner for owner, _ in self._open})
        if not mine and clients >= MAX_UPLOAD_CLIENTS:
            raise UploadError(f"upload {upload_id}: {clients} clients already have uploads open (at most "
                              f"{MAX_UPLOAD_CLIENTS}); retry when one of theirs ends or expires")

    def chunk(self, upload_id: int, offset: int, data: bytes, now: float, client: str = "") -> int:
        """Append one chunk.

        Returns:
            The bytes received so far.

        Raises:
            UploadError: unknown id, an offset other than the bytes received so far, or a chunk
                that would pass the announced total (the upload is dropped then).
        """
        upload = self._get(upload_id, client)
        received = len(upload.data)
        if offset != received:
            raise UploadError(f"upload {upload_id}: chunk at offset {offset}, expected {received} "
                              f"(chunks must arrive in order: resend from {received})")
        if received + len(data) > upload.total:
            del self._open[client, upload_id]
            raise UploadError(f"upload {upload_id}: chunk ends at {received + len(data)} B, past the announced "
                              f"{upload.total} B; upload dropped")
        upload.data += data
        upload.last_seen = now
        return len(upload.data)

    def end(self, upload_id: int, client: str = "") -> FinishedUpload:
        """Close an upload and return its audio.

        Raises:
            UploadError: unknown id, or bytes missing (the upload stays open for the missing chunks).
        """
        upload = self._get(upload_id, client)
        if len(upload.data) != upload.total:
            raise UploadError(f"upload {upload_id}: incomplete, {len(upload.data)} of {upload.total} B received; "
                              f"send the chunk at offset {len(upload.data)}")
        del self._open[client, upload_id]
        audio = np.frombuffer(bytes(upload.data), dtype="<f4").astype(np.float32)
        return FinishedUpload(upload_id, audio, upload.sample_rate)

    def next_expiry(self) -> float | None:
        """When the idlest open upload reaches ``timeout_s`` without a chunk (on the clock of ``now``); None when
        none is open."""
        if not self._open:
            return None
        return min(upload.last_seen for upload in self._open.values()) + self.timeout_s

    def expire(self, now: float) -> list[tuple[str, int]]:
        """Drop uploads idle for ``timeout_s`` or longer.

        Returns:
            The (client, id) pairs dropped.
        """
        stale = [key for key, upload in self._open.items() if now - upload.last_seen >= self.timeout_s]
        for key in stale:
            del self._open[key]
        return stale

    def _get(self, upload_id: int, client: str) -> _Upload:
        try:
            return self._open[client, upload_id]
        except KeyError:
            raise UploadError(f"upload {upload_id}: no such upload open (expired, ended or never begun); "
                              f"send /dexbridge/upload/begin first") from None
