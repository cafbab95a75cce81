"""The control-rate loop behind morphing, macros and latent control.

Controls (a morph position, macro values, a latent vector) arrive at any rate; each is written to
a latest-wins target and the loop wakes. It steps the smoothed value toward the target with an
exponential slew, maps it to a latent vector and decodes it on the loop (``Engine.decode``: one bounded
compiled loop, about 0.13 ms, that never waits behind a search running on the inference thread), or, for a
planned morph, looks its voice up (``to_voice``: a table look-up and a blend, cheaper still), and hands
the voice to ``emit``. A step runs at once, in ``set``, when the loop was idle for a period (the first MIDI
byte leaves within one decode of the message, before the loop turns) and at most ``rate_hz`` times a second while
it moves, so a sweep A -> B produces at most ``rate_hz * seconds + 1`` voices however many
messages drive it; once the value reaches its target (within ``SNAP``) the loop sleeps.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from models.voice import Voice

logger = logging.getLogger(__name__)

SNAP = 1e-3  # closer than this (relative to the target's scale) counts as arrived: the target itself is used

LatentMap = Callable[[np.ndarray], np.ndarray]
VoiceMap = Callable[[np.ndarray], Voice]
Finish = Callable[[Voice, np.ndarray], Voice]


@dataclass
class _Control:
    current: np.ndarray
    target: np.ndarray
    to_latent: LatentMap | None
    slew: bool
    to_voice: VoiceMap | None = None
    finish: Finish | None = None


class ControlLoop:
    """Latest-wins control targets, slewed at a control rate, decoded and emitted as voices.

    Args:
        decode: latent -> voice, called on the loop (``Engine.decode``: one bounded compiled loop).
        emit: called on the loop with each new voice and the latent it was decoded from (None for a
            voice looked up, not decoded).
        on_error: called with an exception a decode raised; the loop keeps running.
        rate_hz: the most steps a second while a control moves.
        slew_ms: time constant of the exponential slew; 0 jumps straight to each target.
    """

    def __init__(self, decode: Callable[[np.ndarray], Voice], emit: Callable[[Voice, np.ndarray | None], None],
                 on_error: Callable[[BaseException], None], *, rate_hz: float = 200.0, slew_ms: float = 20.0) -> None:
        self.decode = decode
        self.emit = emit
        self.on_error = on_error
        self.period = 1.0 / rate_hz
        self.tau = slew_ms / 1000.0
        self.steps = 0
        self._controls: dict[str, _Control] = {}
        self._active: str | None = None
        self._dirty = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_step = -math.inf
        self._waiting = False  # the loop task waits for a control (none moving)
        self.emitting: str | None = None  # the control whose voice ``emit`` is handed now

    def start(self) -> None:
        """Start the loop task (on the running event loop)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="dexbridge-control-loop")

    async def stop(self) -> None:
        """Cancel the loop task and wait for it."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def set(self, kind: str, target: np.ndarray, to_latent: LatentMap | None = None, *, slew: bool = True,
            to_voice: VoiceMap | None = None, finish: Finish | None = None) -> None:
        """Set the target of one control and make it the active one (latest wins).

        Args:
            kind: the control's name (``"morph"``, ``"macro"``, ``"latent"``): each keeps its own
                smoothed value, so switching between them resumes where each was.
            target: the values to move to.
            to_latent: maps the (smoothed) values to a latent vector, which is decoded.
            slew: False jumps straight to the target.
            to_voice: instead of ``to_latent``: maps the values to a voice directly, on the loop (it
                must be quick: a look-up, not a model call).
            finish: applied to each decoded voice with the values it came from (e.g. the nearer
                morph slot's transpose and name).

        Raises:
            ValueError: neither or both of ``to_latent`` and ``to_voice``.
        """
        if (to_latent is None) == (to_voice is None):
            raise ValueError(f"control {kind!r}: give to_latent or to_voice, exactly one")
        target = np.asarray(target, dtype=np.float64)
        control = self._controls.get(kind)
        if control is None or control.current.shape != target.shape:
            control = _Control(target.copy(), target, to_latent, slew, to_voice, finish)
        else:
            control.target, control.to_latent, control.slew = target, to_latent, slew
            control.to_voice, control.finish = to_voice, finish
        self._controls[kind] = control
        self._active = kind
        self._dirty = True
        if self._idle_since_a_period() and self.emitting is None:
            self._step()  # here, not at the loop task's next turn: the message's voice leaves a loop pass sooner
        if self._dirty:
            self._wake.set()

    def _idle_since_a_period(self) -> bool:
        return self._waiting and time.monotonic() - self._last_step >= self.period

    def value(self, kind: str) -> np.ndarray | None:
        """The target of one control (None before it is set)."""
        control = self._controls.get(kind)
        return None if control is None else control.target.copy()

    def current(self, kind: str) -> np.ndarray | None:
        """The smoothed value of one control, where the slew has got to (None before it is set)."""
        control = self._controls.get(kind)
        return None if control is None else control.current.copy()

    def forget(self, kind: str) -> None:
        """Drop a control's state (its next value starts unslewed), e.g. macros after a new voice."""
        self._controls.pop(kind, None)
        if self._active == kind:
            self._active = None

    @property
    def idle(self) -> bool:
        """True when no control is still moving toward its target."""
        return not self._dirty

    async def _run(self) -> None:
        while True:
            self._waiting = True
            try:
                await self._wake.wait()
            finally:
                self._waiting = False
            self._wake.clear()
            while self._dirty:
                wait = self._last_step + self.period - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._step()

    def _step(self) -> None:
        now = time.monotonic()
        dt = min(now - self._last_step, 4 * self.period)
        self._last_step = now
        if self._active is None:
            self._dirty = False
            return
        kind = self._active
        control = self._controls[kind]
        arrived = _slew(control, dt, self.tau)
        self._dirty = not arrived
        self.steps += 1
        try:
            voice, latent = self._voice(control, control.current.copy())
        except Exception as exc:  # reported to the client; the loop lives on
            self._dirty = False
            self.on_error(exc)
            return
        self.emitting = kind
        try:
            self.emit(voice, latent)
        finally:
            self.emitting = None

    def _voice(self, control: _Control, value: np.ndarray) -> tuple[Voice, np.ndarray | None]:
        if control.to_voice is not None:
            return control.to_voice(value), None
        assert control.to_latent is not None  # set() takes exactly one of the two
        latent = control.to_latent(value)
        voice = self.decode(latent)
        return (voice if control.finish is None else control.finish(voice, value)), latent


def _slew(control: _Control, dt: float, tau: float) -> bool:
    """Move ``control.current`` toward its target; True once it is there (snapped exactly)."""
    delta = control.target - control.current
    scale = max(1.0, float(np.max(np.abs(control.target))) if control.target.size else 1.0)
    if not control.slew or tau <= 0 or float(np.max(np.abs(delta), initial=0.0)) < SNAP * scale:
        control.current = control.target.copy()
        return True
    control.current = control.current + delta * (1.0 - math.exp(-dt / tau))
    return False
