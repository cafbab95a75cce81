"""Latent controls: ``/dexbridge/latent``, ``/dexbridge/macro`` and ``/dexbridge/morph`` (and the MIDI CCs
routed to them), each checked, then written to the :class:`ControlLoop` as a latest-wins target.

Macros move around the current voice: their origin is that voice's latent point (encoded off the
loop the first time a macro moves after a new voice arrives) and they start again from zero with
every voice that does not come from the control loop itself. With the ``planned`` method each macro
follows a path planned from the voice toward that macro's far end (:class:`~bridge.daemon.plans.MacroPlans`),
the latent move until it is ready.

A morph plays the slots by ``--morph-method`` (:mod:`engine.morph_path`): ``planned`` looks the
voice up on the path planned when the slots were filled (:mod:`bridge.daemon.plans`; the latent line
until it is ready), ``naive`` blends the slots' parameters, both on the loop without a decode;
``latent`` decodes the latent line (or the pad's bilinear latent), with the nearer slot's transpose
and name.
"""

from __future__ import annotations

import asyncio

import numpy as np

from bridge.daemon.control_loop import ControlLoop
from bridge.daemon.plans import MacroPlans, SlotPlans
from bridge.daemon.state import SLOT_NAMES, BridgeState, RequestError, SessionHost, Slot
from bridge.osc.replies import Peer
from engine.latent import interpolate, morph_2d
from engine.morph_path import blend, compose_moves, naive_pad, nearest_end, with_template
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
        self.plans = SlotPlans(session)
        self.macro_plans = MacroPlans(session)

    @property
    def state(self) -> BridgeState:
        """The session's state."""
        return self.session.state

    def new_voice(self) -> None:
        """A voice arrived from elsewhere (inference, a file, MIDI): macros restart from it."""
        self.loop.forget("macro")
        self.state.macro_values = self.state.macro_origin = None
        self.macro_plans.reset()

    def slots_changed(self) -> None:
        """A slot was filled: plan the paths it is part of (``planned`` method only)."""
        if self.session.settings.morph_method == "planned":
            self.plans.slots_changed()

    def status(self) -> dict[str, object]:
        """The morph's part of ``/dexbridge/status``: method, which planned paths are ready, how long they took."""
        voices = [slot.voice for slot in self.state.slots if slot is not None]
        filled = len(voices) == len(self.state.slots)
        return {"method": self.session.settings.morph_method,
                "line_planned": None not in self.state.slots[:2] and self.plans.line_for(*voices[:2]) is not None,
                "pad_planned": filled and self.plans.pad_for(voices) is not None,
                "planning": self.plans.busy, "plan_ms": dict(self.plans.plan_ms)}

    def _emit(self, voice: Voice, latent: np.ndarray | None) -> None:
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
            voice = state.voice
            origin = state.latent if state.latent is not None else await asyncio.to_thread(self.session.engine.encode, voice)
            state.macro_origin = origin
            self.macro_plans.reset(voice, origin)
            if state.macro_values is not None:
                self._set_macros()
        finally:
            self.origin_task = None

    def _set_macros(self) -> None:
        """Macros by the morph method: planned paths per axis once planned (the latent move until then), or
        the latent move, with the origin voice's transpose and name."""
        origin = self.state.macro_origin
        values = self.state.macro_values
        assert origin is not None and values is not None
        plans = self.macro_plans
        if self.session.settings.morph_method == "planned" and plans.origin is not None:
            current = self.loop.current("macro")  # each macro slews from here to its target: both ends' paths
            if plans.moves(values) is not None and (current is None or plans.moves(current) is not None):
                voice = plans.origin[0]
                self.loop.set("macro", values.copy(), to_voice=lambda v: compose_moves(voice, plans.moves(v) or []))
                return
        template = self.state.voice if plans.origin is None else plans.origin[0]
        self.loop.set("macro", values.copy(), lambda v: self.session.engine.macros_to_latent(v.tolist(), origin),
                      finish=lambda voice, v: with_template(voice, template))

    def morph(self, peer: Peer, x: float, y: float | None = None) -> None:
        """Move the morph position: A -> B with x alone, the four corners with x and y."""
        for name, value in (("x", x), ("y", y)):
            if value is not None and not 0.0 <= value <= 1.0:
                raise RequestError(f"/dexbridge/morph: {name} = {value}, range 0..1")
        needed = 2 if y is None else 4
        empty = [SLOT_NAMES[i] for i in range(needed) if self.state.slots[i] is None]
        if empty:
            slots = f"slot {empty[0]} is" if len(empty) == 1 else f"slots {', '.join(empty)} are"
            raise RequestError(f"/dexbridge/morph: {slots} empty; fill {'it' if len(empty) == 1 else 'them'} with "
                               "/dexbridge/morph/slot SLOT SOURCE (a bank index, a .syx path, current, or midi for the "
                               "next voice dump on MIDI in)")
        slots = [slot for slot in self.state.slots[:needed] if slot is not None]
        self.peer = peer
        if y is None:
            self._morph_line(slots, x)
        else:
            self._morph_pad(slots, x, y)

    def _morph_line(self, slots: list[Slot], x: float) -> None:
        method = self.session.settings.morph_method
        ends = [slot.voice for slot in slots]
        plan = self.plans.line_for(*ends) if method == "planned" else None
        if plan is not None:
            self.loop.set("morph", np.array([x]), to_voice=lambda p: plan.voice_at(float(p[0])))
        elif method == "naive":
            self.loop.set("morph", np.array([x]), to_voice=lambda p: blend(ends[0], ends[1], float(p[0])))
        else:
            a, b = slots[0].latent, slots[1].latent
            self.loop.set("morph", np.array([x]), lambda p: interpolate(a, b, float(p[0])),
                          finish=lambda voice, p: with_template(voice, nearest_end(ends, float(p[0]))))

    def _morph_pad(self, slots: list[Slot], x: float, y: float) -> None:
        method = self.session.settings.morph_method
        corners = [slot.voice for slot in slots]
        pad = self.plans.pad_for(corners) if method == "planned" else None
        if pad is not None:
            self.loop.set("morph", np.array([x, y]), to_voice=lambda p: pad.voice_at(float(p[0]), float(p[1])))
        elif method == "naive":
            self.loop.set("morph", np.array([x, y]), to_voice=lambda p: naive_pad(corners, float(p[0]), float(p[1])))
        else:
            latents = [slot.latent for slot in slots]
            self.loop.set("morph", np.array([x, y]), lambda p: morph_2d(latents, float(p[0]), float(p[1])),
                          finish=lambda voice, p: with_template(voice, nearest_end(corners, float(p[0]), float(p[1]))))
