"""A recording's vibrato as the DX7's LFO: speed, pitch-modulation depth and sensitivity, and delay.

The DX7 LFO (as Dexed computes it, per 64-sample block) runs at ``0.005865 Hz x s`` where
``s = (165 x speed) >> 6``, times 11 below 160 and ``11 + (s - 160) >> 4`` above (0.06 Hz at speed 0, 5.8 Hz
at 35, 23.9 Hz at 99). Its pitch swing is ``(165 x PM depth) >> 6`` times the pitch-modulation sensitivity's
table entry (0, 10, 20, 33, 55, 92, 153, 255) over 2^16 octaves, each side of the note (up to 99 x 7: about an
octave). Its delay holds the LFO silent for ``2^31 / (25 190 424 x a)`` seconds, ``a = (16 + (d & 15)) << (1 + d >> 4)``
with ``d = 99 - delay``, then fades it in over the same again at a coarser step. These are checked against
dexed-py renders in the tests: the vibrato :func:`engine.pitch.estimate_f0` hears in a render of
:func:`with_vibrato`'s voice is the one asked for.
"""

from __future__ import annotations

import numpy as np

from engine.pitch import Vibrato
from models.params import BY_NAME
from models.voice import Voice

__all__ = ["has_vibrato_like", "lfo_delay_s", "lfo_depth_cents", "lfo_rate_hz", "vibrato_cents", "vibrato_settings",
           "with_vibrato"]

HZ_PER_STEP = 25190424 / 2**32
"""The LFO's frequency per unit of its internal rate."""
PM_SENS_TABLE = (0, 10, 20, 33, 55, 92, 153, 255)
SINE = 4
"""LFO WAVE: sine (TRI, SAW DN, SAW UP, SQR, SINE, S&H)."""
MAX_DEPTH_CENTS = 100.0
"""Deeper vibratos are set to this: a performed vibrato swings up to about a semitone; more is a siren."""


def lfo_rate_hz(speed: int) -> float:
    """The LFO's frequency at LFO SPEED ``speed`` (0-99)."""
    step = 1 if speed == 0 else (165 * speed) >> 6
    step *= 11 if step < 160 else 11 + ((step - 160) >> 4)
    return HZ_PER_STEP * step


def lfo_depth_cents(pm_depth: int, pm_sens: int) -> float:
    """The pitch swing each side of the note (cents) at LFO PM DEPTH ``pm_depth`` (0-99) and P MODE SENS. ``pm_sens`` (0-7)."""
    return 1200.0 * ((165 * pm_depth) >> 6) * PM_SENS_TABLE[pm_sens] / 2**16


def _delay_step(delay: int) -> tuple[int, int]:
    """The delay's increments per second in units of 25 190 424: while silent, then while fading in."""
    a = 99 - delay
    a = (16 + (a & 15)) << (1 + (a >> 4))
    return a, max(0x80, a & 0xFF80)


def lfo_delay_s(delay: int) -> float:
    """Seconds from the key until the vibrato reaches half its depth at LFO DELAY ``delay`` (0-99; 0: at once)."""
    if delay == 0:
        return 0.0
    silent, fading = _delay_step(delay)
    return 2**31 / (25190424 * silent) + 2**30 / (25190424 * fading)


def vibrato_settings(vibrato: Vibrato) -> dict[str, int]:
    """The LFO parameters (by name) that play ``vibrato``: the nearest speed, the nearest delay, and the lowest
    sensitivity that reaches the depth (the finest depth steps) with the nearest depth; a sine, restarted at each key."""
    speed = min(range(100), key=lambda s: abs(np.log(lfo_rate_hz(s) / vibrato.rate_hz)))
    delay = min(range(100), key=lambda d: abs(lfo_delay_s(d) - vibrato.delay_s))
    depth = min(vibrato.depth_cents, MAX_DEPTH_CENTS)
    sens = next(s for s in range(1, 8) if lfo_depth_cents(99, s) >= depth)
    pm_depth = min(range(100), key=lambda d: abs(lfo_depth_cents(d, sens) - depth))
    return {"lfo_speed": speed, "lfo_delay": delay, "lfo_pm_depth": pm_depth, "pitch_mod_sens": sens,
            "lfo_wave": SINE, "lfo_sync": 1}


def with_vibrato(voice: Voice, vibrato: Vibrato) -> Voice:
    """``voice`` with its LFO set to play ``vibrato`` (:func:`vibrato_settings`); the amplitude modulation's depth
    is kept (a tremolo then moves at the vibrato's rate)."""
    return voice.replace({BY_NAME[name].index: value for name, value in vibrato_settings(vibrato).items()})


SIMILAR_DEPTH = 2.0
"""A voice's own vibrato stands in for a recording's when its depth is within this factor of the recording's."""


def vibrato_cents(voice: Voice) -> float:
    """How far the voice's LFO swings its pitch each side of the note, in cents (0: no vibrato)."""
    return lfo_depth_cents(voice["lfo_pm_depth"], voice["pitch_mod_sens"])


def has_vibrato_like(voice: Voice, vibrato: Vibrato) -> bool:
    """Whether the voice's own LFO swings its pitch about as deep as ``vibrato`` (within :data:`SIMILAR_DEPTH`
    either way): a 5-cent wobble does not play a 20-cent vibrato, nor a 100-cent siren a 20-cent one."""
    depth = vibrato_cents(voice)
    return depth > 0 and 1 / SIMILAR_DEPTH <= depth / vibrato.depth_cents <= SIMILAR_DEPTH
