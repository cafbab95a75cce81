"""Latent controls: ``/dexbridge/latent``, ``/dexbridge/macro``, ``/dexbridge/macros`` and ``/dexbridge/morph`` (and
the MIDI CCs routed to them), each checked, then written to the :class:`ControlLoop` as a latest-wins target.

Macros move around the current voice and keep its structure (:mod:`engine.macro_table`): their table
is decoded off the loop the first time a macro moves after a new voice, and they start again from
zero with every voice that the macros did not make themselves (a morph step, an inference, a file).
Until the table is ready the voice holds: the latest macro values play once it lands. Each macro
message is answered with ``/dexbridge/macro`` (index, value, the macro's name).

A morph plays the slots by ``--morph-method`` (:mod:`engine.morph_path`): ``planned`` looks the
voice up on the path planned when the slots were filled (:mod:`bridge.daemon.plans`), ``naive``
blends the slots' parameters, both on the loop without a decode; ``latent`` decodes the latent line
(or the pad's bilinear latent), with the nearer slot's transpose and name. A planned morph never
plays an unplanned path: until the plan lands it holds at the current voice, tells the sender once
(``/dexbridge/notice``), and then plays toward the latest position along the plan.
"""

from __future__ import annotations

import asyncio

import numpy as np

from bridge.daemon.control_loop import ControlLoop
from bridge.daemon.plans import SlotPlans
from bridge.daemon.state import SLOT_NAMES, BridgeState, RequestError, SessionHost, Slot
from bridge.osc.replies import Peer
from engine.latent import interpolate, morph_2d
from engine.macro_table import MacroTable
from engine.morph_path import blend, naive_pad, nearest_end, with_template
from models.voice import Voice


class Controls:
    """The control addresses of one session, and the control loop they drive.

    Args:
        session: the bridge; new voices go to its ``apply_voice``.
    """

    def __init__(self, session: SessionHost) -> None:
        self.session = session
        settings = session.settings
        self.loop = ControlLoop(session.engine.decode, self._emit, self._failed,
                                rate_hz=settings.control_rate, slew_ms=settings.slew_ms)
        self.peer: Peer | None = None  # who sent the latest control: decode errors go back to them
        self.plans = SlotPlans(session, on_ready=self._plan_landed)
        self.macro_table: MacroTable | None = None
        self.table_task: asyncio.Task[None] | None = None
        self.held: tuple[float, ...] | None = None  # a planned morph's position, waiting for its plan
        self._origins = 0  # counts new voices: a table decoded for an older one is dropped

    @property
    def state(self) -> BridgeState:
        """The session's state."""
        return self.session.state

    def new_voice(self) -> None:
        """A voice arrived that the macros did not make: they restart from it."""
        self.loop.forget("macro")
        self.state.macro_values = None
        self.macro_table = None
        self._origins += 1

    def slots_changed(self) -> None:
        """A slot was filled: plan the paths it is part of (``planned`` method only)."""
        if self.session.settings.morph_method == "planned":
            self.plans.slots_changed()

    def status(self) -> dict[str, object]:
        """The morph's part of ``/dexbridge/status``: method, which planned paths are ready, how long they took,
        and the position of a morph held until its plan lands (``held``)."""
        voices = [slot.voice for slot in self.state.slots if slot is not None]
        filled = len(voices) == len(self.state.slots)
        return {"method": self.session.settings.morph_method,
                "line_planned": None not in self.state.slots[:2] and self.plans.line_for(*voices[:2]) is not None,
                "pad_planned": filled and self.plans.pad_for(voices) is not None,
                "planning": self.plans.busy, "held": None if self.held is None else list(self.held),
                "plan_ms": dict(self.plans.plan_ms)}

    def _emit(self, voice: Voice, latent: np.ndarray | None) -> None:
        self.session.apply_voice(voice, latent, from_macros=self.loop.emitting == "macro")

    def _failed(self, exc: BaseException) -> None:
        self.session.refuse(self.peer, exc, "control")

    def latent(self, peer: Peer, *values: float) -> None:
        """Move to a latent point (slewed)."""
        if len(values) != self.session.engine.latent_dim:
            raise RequestError(f"/dexbridge/latent: {len(values)} values, this model's latent has {self.session.engine.latent_dim}")
        self.peer, self.held = peer, None
        self.loop.set("latent", np.asarray(values), lambda z: z.astype(np.float32))

    def macros(self, peer: Peer) -> None:
        """Answer ``/dexbridge/macros`` with every macro's name."""
        self.session.server.reply(peer, "/dexbridge/macros", *self.session.engine.macro_names)

    def macro(self, peer: Peer | None, index: int, value: float) -> None:
        """Set one macro around the current voice (``peer`` None: a MIDI CC, answered to no one)."""
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
        self.peer, self.held = peer, None
        if peer is not None:
            self.session.server.reply(peer, "/dexbridge/macro", index, value, self.session.engine.macro_names[index])
        if self.macro_table is not None:
            self._set_macros()
        elif self.table_task is None:
            self.table_task = self.session.spawn(self._decode_macro_table(), peer, "/dexbridge/macro")

    async def _decode_macro_table(self) -> None:
        """Decode the current voice's macro table off the loop (again if a new voice came meanwhile), then play
        the latest macro values."""
        try:
            while self.macro_table is None and self.state.macro_values is not None:
                origins, voice, latent = self._origins, self.state.voice, self.state.latent
                table = await asyncio.to_thread(self.session.engine.macro_table, voice, latent)
                if origins == self._origins:
                    self.macro_table = table
            if self.macro_table is not None and self.state.macro_values is not None:
                self._set_macros()
        finally:
            self.table_task = None

    def _set_macros(self) -> None:
        table, values = self.macro_table, self.state.macro_values
        assert table is not None and values is not None
        self.loop.set("macro", values.copy(), to_voice=table.voice_at)

    def morph(self, peer: Peer | None, x: float, y: float | None = None) -> None:
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
        self.peer = peer
        self._play((x,) if y is None else (x, y))

    def _play(self, position: tuple[float, ...]) -> None:
        slots = [slot for slot in self.state.slots[:2 * len(position)] if slot is not None]
        if len(position) == 1:
            self._morph_line(slots, position[0])
        else:
            self._morph_pad(slots, *position)

    def _plan_landed(self) -> None:
        """A planned edge or pad centre landed: a held morph plays if its line or pad is now planned."""
        if self.held is not None:
            self._play(self.held)

    def _hold(self, position: tuple[float, ...]) -> None:
        """Hold a planned morph at the current voice until its plan lands; tell the sender once."""
        if self.held is None and self.peer is not None:
            what, takes = ("line A -> B", "a fraction of a second") if len(position) == 1 else ("pad A B C D", "about a second")
            self.session.server.reply(self.peer, "/dexbridge/notice",
                                      f"/dexbridge/morph: planning the {what}; the voice holds until the plan is ready "
                                      f"({takes}), then the morph plays to the latest position")
        self.held = position
        if not self.plans.busy:
            self.plans.slots_changed()  # planned before and dropped from the cache: plan again

    def _morph_line(self, slots: list[Slot], x: float) -> None:
        method = self.session.settings.morph_method
        ends = [slot.voice for slot in slots]
        if method == "planned":
            if (plan := self.plans.line_for(*ends)) is None:
                self._hold((x,))
                return
            self.held = None
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
        if method == "planned":
            if (pad := self.plans.pad_for(corners)) is None:
                self._hold((x, y))
                return
            self.held = None
            self.loop.set("morph", np.array([x, y]), to_voice=lambda p: pad.voice_at(float(p[0]), float(p[1])))
        elif method == "naive":
            self.loop.set("morph", np.array([x, y]), to_voice=lambda p: naive_pad(corners, float(p[0]), float(p[1])))
        else:
            latents = [slot.latent for slot in slots]
            self.loop.set("morph", np.array([x, y]), lambda p: morph_2d(latents, float(p[0]), float(p[1])),
                          finish=lambda voice, p: with_template(voice, nearest_end(corners, float(p[0]), float(p[1]))))
