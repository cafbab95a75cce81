"""Planned morph paths for the filled slots (``--morph-method planned``, the default).

When ``/dexbridge/morph/slot`` (or MIDI in) fills a slot, the paths that depend on it are planned
off the event loop (:func:`engine.morph_plan.plan_morph`, a thread): the line A -> B once A and B
are filled, the pad's four edges once all four are. One planning job runs at a time; slots that
change again meanwhile are planned next (the newest slots win, stale plans are dropped). Edges
already planned for the same two voices are reused. Until a path is ready the morph plays the
latent line, so a morph message is never refused or delayed for planning.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from bridge.daemon.state import SessionHost
from engine.morph_path import MorphPlan, PadPlan
from engine.morph_plan import plan_morph
from models.voice import Voice

logger = logging.getLogger(__name__)

EDGE_CACHE = 16  # planned edges kept for reuse (slots refilled with voices planned before)
Planner = Callable[[Voice, Voice], MorphPlan]
_Key = tuple[Voice, ...]


class SlotPlans:
    """The planned line and pad of a session's slots.

    Args:
        session: whose slots to plan; failures are logged and counted through it.
        planner: plans one edge (a thread runs it); default :func:`engine.morph_plan.plan_morph`.
    """

    def __init__(self, session: SessionHost, planner: Planner = plan_morph) -> None:
        self.session = session
        self.planner = planner
        self.line: MorphPlan | None = None
        self.pad: PadPlan | None = None
        self.plan_ms: dict[str, float] = {}  # how long the latest line / pad plan took, slot fill to ready
        self._edges: OrderedDict[_Key, MorphPlan] = OrderedDict()
        self._wanted: dict[str, tuple[_Key | None, float]] = {"line": (None, 0.0), "pad": (None, 0.0)}
        self._done: dict[str, _Key | None] = {"line": None, "pad": None}
        self._job: asyncio.Task[None] | None = None

    def line_for(self, a: Voice, b: Voice) -> MorphPlan | None:
        """The planned line A -> B, if it is ready for these voices."""
        return self.line if self._done["line"] == (a, b) else None

    def pad_for(self, corners: Sequence[Voice]) -> PadPlan | None:
        """The planned pad, if it is ready for these corners."""
        return self.pad if self._done["pad"] == tuple(corners) else None

    @property
    def busy(self) -> bool:
        """Whether a planning job is running or waiting."""
        return self._job is not None

    def slots_changed(self) -> None:
        """Note the slots' voices; plan what they now need (on the loop; the planning runs in a thread)."""
        slots = self.session.state.slots
        voices = [slot.voice if slot is not None else None for slot in slots]
        now = time.perf_counter()
        for kind, count in (("line", 2), ("pad", 4)):
            key = tuple(v for v in voices[:count] if v is not None)
            key = key if len(key) == count else None
            if key != self._wanted[kind][0]:
                self._wanted[kind] = (key, now)
        if self._job is None and any(self._wanted[k][0] not in (None, self._done[k]) for k in self._wanted):
            self._job = self.session.spawn(self._plan_all(), None, "/dexbridge/morph/slot")

    async def _plan_all(self) -> None:
        try:
            while True:
                kind = next((k for k in ("line", "pad") if self._wanted[k][0] not in (None, self._done[k])), None)
                if kind is None:
                    return
                key, since = self._wanted[kind]
                assert key is not None
                plan = await asyncio.to_thread(self._plan, key)
                if self._wanted[kind][0] != key:
                    continue  # the slots changed meanwhile: plan the new ones
                if kind == "line":
                    assert isinstance(plan, MorphPlan)
                    self.line = plan
                else:
                    assert isinstance(plan, PadPlan)
                    self.pad = plan
                self._done[kind] = key
                self.plan_ms[kind] = round((time.perf_counter() - since) * 1000.0, 1)
                logger.info("morph.planned %s=%s ms=%.1f", kind, ",".join(v.name.strip() for v in key), self.plan_ms[kind])
        finally:
            self._job = None

    def _plan(self, key: _Key) -> MorphPlan | PadPlan:
        """Plan a line (2 voices) or a pad (4), reusing edges planned before (in the planning thread)."""
        if len(key) == 2:
            return self._edge(*key)
        a, b, c, d = key
        return PadPlan(self._edge(a, b), self._edge(c, d), self._edge(a, c), self._edge(b, d))

    def _edge(self, a: Voice, b: Voice) -> MorphPlan:
        plan = self._edges.get((a, b))
        if plan is None:
            plan = self._edges[(a, b)] = self.planner(a, b)
            while len(self._edges) > EDGE_CACHE:
                self._edges.popitem(last=False)
        return plan
