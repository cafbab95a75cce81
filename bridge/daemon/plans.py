"""Planned morph paths for the filled slots (``--morph-method planned``, the default).

A path is planned per edge: A -> B (the line, and the pad's top edge), C -> D, A -> C and B -> D (the
pad's other edges), and once all four slots are filled the pad's centre (the paths from each corner
to a centre voice: :func:`engine.morph_plan.plan_centre`). When ``/dexbridge/morph/slot`` (or MIDI in)
fills a slot, every edge whose two slots are filled and that is not planned yet is planned off the
event loop (:func:`engine.morph_plan.plan_morph`, a thread), one at a time, the line first, the centre
last; so by the time the fourth slot is filled, the edges of the first three are usually ready and
the pad waits for two edges and its centre. Plans are kept per pair of voices (the newest
:data:`EDGE_CACHE`; centres per four, the newest :data:`CENTRE_CACHE`) and reused when slots are
filled again with voices planned before. Until a path is ready a morph holds at the current voice
(:class:`bridge.daemon.controls.Controls`); each edge that lands is announced (``on_ready``), so the
held morph plays as soon as its line or pad is planned.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from bridge.daemon.state import SessionHost
from engine.morph_path import MorphPlan, PadPlan, Spokes
from engine.morph_plan import plan_centre, plan_morph
from models.voice import Voice

logger = logging.getLogger(__name__)

EDGE_CACHE = 16  # planned edges kept for reuse
CENTRE_CACHE = 4  # planned pad centres kept for reuse
EDGES = ((0, 1), (2, 3), (0, 2), (1, 3))  # slot pairs: top (the line), bottom, left, right
Planner = Callable[[Voice, Voice], MorphPlan]
CentrePlanner = Callable[[Sequence[Voice]], Spokes]
_Edge = tuple[Voice, Voice]
_Corners = tuple[Voice, ...]


class SlotPlans:
    """The planned edges of a session's slots, and the line and pad they make.

    Args:
        session: whose slots to plan; failures are logged and counted through it.
        on_ready: called on the loop after each edge is planned.
        planner: plans one edge (a thread runs it); default :func:`engine.morph_plan.plan_morph`.
        centre_planner: plans a pad's centre; default :func:`engine.morph_plan.plan_centre`.
    """

    def __init__(self, session: SessionHost, on_ready: Callable[[], None], planner: Planner = plan_morph,
                 centre_planner: CentrePlanner = plan_centre) -> None:
        self.session = session
        self.on_ready = on_ready
        self.planner = planner
        self.centre_planner = centre_planner
        self.plan_ms: dict[str, float] = {}  # the latest line / pad: from the slot fill that needed it to ready
        self._edges: OrderedDict[_Edge, MorphPlan] = OrderedDict()
        self._centres: OrderedDict[_Corners, Spokes] = OrderedDict()
        self._since: dict[str, tuple[tuple[Voice, ...], float]] = {}
        self._job: asyncio.Task[None] | None = None

    def line_for(self, a: Voice, b: Voice) -> MorphPlan | None:
        """The planned line A -> B, if it is ready."""
        return self._edges.get((a, b))

    def pad_for(self, corners: Sequence[Voice]) -> PadPlan | None:
        """The planned pad over A B C D, if its four edges and its centre are ready."""
        edges = []
        for i, j in EDGES:
            if (edge := self._edges.get((corners[i], corners[j]))) is None:
                return None
            edges.append(edge)
        spokes = self._centres.get(tuple(corners))
        return None if spokes is None else PadPlan(*edges, spokes=spokes)

    @property
    def busy(self) -> bool:
        """Whether a planning job is running."""
        return self._job is not None

    def slots_changed(self) -> None:
        """Plan the edges the filled slots now have (on the loop; the planning runs in a thread)."""
        voices = self._voices()
        now = time.perf_counter()
        for kind, count in (("line", 2), ("pad", 4)):
            key = tuple(v for v in voices[:count] if v is not None)
            if len(key) == count and self._since.get(kind, ((), 0.0))[0] != key:
                self._since[kind] = (key, now)
        if self._job is None and (self._next_edge() is not None or self._next_centre() is not None):
            self._job = self.session.spawn(self._plan_edges(), None, "/dexbridge/morph/slot")
        elif self._job is None:
            self._note_ready()  # planned before, for the same voices

    def _voices(self) -> list[Voice | None]:
        return [slot.voice if slot is not None else None for slot in self.session.state.slots]

    def _next_edge(self) -> _Edge | None:
        """The first edge (in :data:`EDGES` order) whose slots are filled and that has no plan."""
        voices = self._voices()
        for i, j in EDGES:
            a, b = voices[i], voices[j]
            if a is not None and b is not None and (a, b) not in self._edges:
                return a, b
        return None

    def _next_centre(self) -> _Corners | None:
        """The four slots' voices, when all are filled and their centre has no plan."""
        voices = self._voices()
        if any(v is None for v in voices[:4]) or tuple(voices[:4]) in self._centres:
            return None
        return tuple(v for v in voices[:4] if v is not None)

    async def _plan_edges(self) -> None:
        try:
            while True:
                if (edge := self._next_edge()) is not None:
                    self._edges[edge] = await asyncio.to_thread(self.planner, *edge)
                    _trim(self._edges, EDGE_CACHE)
                elif (corners := self._next_centre()) is not None:
                    self._centres[corners] = await asyncio.to_thread(self.centre_planner, corners)
                    _trim(self._centres, CENTRE_CACHE)
                else:
                    break
                self._note_ready()
                self.on_ready()
        finally:
            self._job = None

    def _note_ready(self) -> None:
        """Log and time the line and pad that just became ready."""
        for kind, (key, since) in list(self._since.items()):
            ready = self.line_for(*key) if kind == "line" else self.pad_for(key)
            if ready is not None and tuple(v for v in self._voices()[:len(key)]) == key:
                self.plan_ms[kind] = round((time.perf_counter() - since) * 1000.0, 1)
                del self._since[kind]
                logger.info("morph.planned %s=%s ms=%.1f", kind, ",".join(v.name.strip() for v in key), self.plan_ms[kind])


def _trim(plans: OrderedDict[Any, Any], keep: int) -> None:
    while len(plans) > keep:
        plans.popitem(last=False)
