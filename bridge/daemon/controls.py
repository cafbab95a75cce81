"""Latent controls: ``/dexbridge/latent``, ``/dexbridge/macro`` and ``/dexbridge/morph`` (and the MIDI CCs
routed to them), each checked, then written to the :class:`ControlLoop` as a latest-wins target.

Macros move around the current voice: their origin is that voice's latent point (encoded off the
loop the first time a macro moves after a new voice arrives) and they start again from zero with
every voice that does not come from the control loop itself.
"""

from __future__ import annotations

import asyncio

import numpy as np

from bridge.daemon.morph import ControlLoop
from bridge.daemon.state import SLOT_NAMES, BridgeState, RequestError, SessionHost
from bridge.osc.server import Peer
from engine.latent import interpolate, morph_2d
from models.voice import Voice


class Controls:
    """The control addresses of one session, and the control loop they drive.

    Args:
        session: the bridge; new voices go to its ``apply_voice``.
    """

    def __init__(self, session: SessionHost) -> None:
        self.session = session
        settings = session.settings
        self.loop = ControlLoop(session.worker.decode, self._emit, self._failed,
                                rate_hz=settings.control_rate, slew_ms=settings.slew_ms)
        self.peer: Peer | None = None  # who sent the latest control: decode errors go back to them
        self.origin_task: asyncio.Task[None] | None = None

    @property
    def state(self) -> BridgeState:
        """The session's state."""
        return self.session.state

    def new_voice(self) -> None:
        """A voice arrived from elsewhere (inference, a file, MIDI): macros restart from it."""
        self.loop.forget("macro")
        self.state.macro_values = self.state.macro_origin = None

    def _emit(self, voice: Voice, latent: np.ndarray) -> None:
        self.session.apply_voice(voice, latent, controlled=True)

    def _failed(self, exc: BaseException) -> None:
        self.session.refuse(self.peer, exc, "control")

    def latent(self, peer: Peer, *values: float) -> None:
        """Move to a latent point (slewed)."""
        if len(values) != self.session.engine.latent_dim:
            raise RequestError(f"/dexbridge/latent: {len(values)} values, this model's latent has {self.session.engine.latent_dim}")
        self.peer = peer
        self.loop.set("latent", np.asarray(values), lambda z: z.astype(np.float32))

    def macro(self, peer: Peer, index: int, value: float) -> None:
        """Set one macro around the current voice."""
        count = self.session.engine.macro_count
        if count == 0:
            raise RequestError("/dexbridge/macro: this checkpoint has no macro axes; export it with "
                               "'dexbridge export-checkpoint ... --axes-corpus CORPUS.sqlite'")
        if not 0 <= index < count:
            raise RequestError(f"/dexbridge/macro: index {index}, range 0..{count - 1} ({count} macros in this model)")
        if not -1.0 <= value <= 1.0:
            raise RequestError(f"/dexbridge/macro: value {value}, range -1..1")
        state = self.state
        if state.macro_values is None:
            state.macro_values = np.zeros(count)
        state.macro_values[index] = value
        self.peer = peer
        if state.macro_origin is not None:
            self._set_macros()
        elif self.origin_task is None:
            self.origin_task = self.session.spawn(self._encode_macro_origin(), peer, "/dexbridge/macro")

    async def _encode_macro_origin(self) -> None:
        try:
            state = self.state
            origin = state.latent if state.latent is not None else await asyncio.to_thread(self.session.engine.encode, state.voice)
            state.macro_origin = origin
            if state.macro_values is not None:
                self._set_macros()
        finally:
            self.origin_task = None

    def _set_macros(self) -> None:
        origin = self.state.macro_origin
        values = self.state.macro_values
        assert origin is not None and values is not None
        self.loop.set("macro", values.copy(), lambda v: self.session.engine.macros_to_latent(v.tolist(), origin))

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
        self.peer = peer
        if y is None:
            self.loop.set("morph", np.array([x]), lambda p: interpolate(corners[0], corners[1], float(p[0])))
        else:
            self.loop.set("morph", np.array([x, y]), lambda p: morph_2d(corners, float(p[0]), float(p[1])))
