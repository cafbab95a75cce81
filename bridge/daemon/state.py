"""What every request handler shares: :class:`BridgeState` (the voice, morph slots, bank, modes), the
:class:`RequestError` they raise, and the protocols of the engine, worker, outputs and files folder they call, and of
the session (:class:`SessionHost`) that the session's parts (controls, voices) call back into.
"""

from __future__ import annotations

import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bridge.daemon.settings import Settings
from bridge.osc.replies import Peer
from bridge.osc.server import OscServer
from engine.macro_table import MacroTable
from models.errors import DexbridgeError
from models.voice import Voice

SLOT_NAMES = "ABCD"
BANK_SIZE = 32


class RequestError(DexbridgeError, ValueError):
    """A request the bridge refuses: a value out of range, an empty slot, a missing file, busy."""


class Output(Protocol):
    """A MIDI-side destination of voices and notes (a port in some modes, the embedded synth, ...)."""

    def send_voice(self, voice: Voice) -> None:
        """Bring the destination to this voice (whatever messages its mode sends)."""

    def resync(self, voice: Voice) -> None:
        """Send the whole voice again, the way the active modes would (the synth lost its state)."""

    def send_dump(self, voice: Voice) -> None:
        """Send the voice as a single voice dump now (the answer to a DX7 dump request)."""

    def send_note(self, message: bytes) -> None:
        """Pass a note or controller message through."""

    def set_modes(self, modes: Sequence[str]) -> None:
        """Switch output modes (``param``, ``dump``, ``cc``; ``osc`` is the session's own)."""

    def status(self) -> dict[str, Any]:
        """JSON-ready figures for ``/dexbridge/status``."""

    def embedded_synth(self) -> Any:
        """The embedded dexed-py synth among the destinations (for auditions), or None."""

    def all_notes_off(self) -> None:
        """Silence every sounding note (shutdown, panic)."""

    async def aclose(self) -> None:
        """Flush and close."""


class VoiceEngine(Protocol):
    """What the session uses of :class:`engine.runtime.Engine` (sync, thread-safe): voices <-> latent points, macros."""

    latent_dim: int
    macro_count: int
    macro_names: tuple[str, ...]
    backend_name: str

    def encode(self, voice: Voice) -> np.ndarray: ...

    def decode(self, latent: np.ndarray) -> Voice: ...

    def macro_table(self, voice: Voice, latent: np.ndarray | None = None) -> MacroTable: ...

    def seconds_heard(self, f0_hz: float | None) -> float: ...


class Worker(Protocol):
    """What the session uses of :class:`engine.worker.InferenceWorker`."""

    async def infer(self, audio: np.ndarray, sample_rate: int, **options: Any) -> Any: ...

    async def infer_takes(self, takes: Any, **options: Any) -> Any: ...


class Files(Protocol):
    """What the session's parts use of :class:`bridge.daemon.files.FileArea`: the checked path of a request."""

    def resolve_read(self, path: str) -> Path:
        """The existing file inside the files folders that ``path`` names."""

    def resolve_write(self, path: str) -> Path:
        """The file inside the write folder that ``path`` may create or replace."""


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
    voices_applied: int = 0
    started: float = field(default_factory=time.monotonic)


class SessionHost(Protocol):
    """What the session's parts (:mod:`bridge.daemon.controls`, :mod:`bridge.daemon.voices`) use of
    :class:`bridge.daemon.session.BridgeSession`: they get this narrow face, never the session's module."""

    settings: Settings
    engine: VoiceEngine
    worker: Worker
    server: OscServer
    state: BridgeState
    files: Files

    def apply_voice(self, voice: Voice, latent: np.ndarray | None = None, *, from_macros: bool = False) -> None:
        """Make ``voice`` current on every output."""

    def refuse(self, peer: Peer | None, exc: BaseException, address: str) -> None:
        """Answer a failed request with ``/dexbridge/error``."""

    def spawn(self, job: Coroutine[Any, Any, None], peer: Peer | None, address: str) -> Any:
        """Run a request's slow part as a tracked task; its failure is reported to ``peer``."""

    def slots_changed(self) -> None:
        """A morph slot was filled (paths through it may be planned)."""
