"""What the macros do to the sound (``dexbridge macros``): each axis named by measurement, and how smoothly it moves.

**Names.** Around a sample of voices each macro is moved to -1 and to +1 (:class:`engine.macro_table.MacroTable`,
as the daemon plays it), both rendered at (60, 85) with dexed-py, and described (:func:`describe`): brightness
(spectral centroid), loudness (peak level), slow attack (time to 90 % of the peak), sustain (level at the end
of the held note against the peak), long release (level after the note-off against the level before),
beating (how much the level wobbles while held: detuned operators, the LFO) and noise (spectral flatness).
Per axis and descriptor, the change from -1 to +1 over the voices scores ``effect * |consistency|``: effect
is the mean change over the descriptor's spread across the voices, consistency the mean change over its
root mean square (1: every voice moves the same way by as much). An axis is named by its best descriptor,
and turned so that +1 means more of it; a name an earlier, stronger axis took gets the axis's next best
descriptor after it that makes it distinct ("brightness, less sustain").

**Smoothness.** Each axis is swept from -1 to 1 in 0.05 steps around a few voices: every step's voice
rendered, the step's spectral change measured as ``dexbridge eval-morph`` measures a morph's step
(log-spectral MAE between neighbouring renders), with the parameters each step changes and whether the
voice's structure (:func:`structure`) ever changed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from engine.macro_table import MacroTable
from models.dsp import percentiles
from models.metrics import spec_mae, stft_magnitude
from models.params import BY_NAME, VOICE_PARAMS
from models.render import Renderer
from models.voice import Voice

__all__ = ["DESCRIPTORS", "SWEEP_STEP", "AxisName", "Sweep", "describe", "name_axes", "steadiness", "structure", "sweep"]

DESCRIPTORS = ("brightness", "loudness", "slow attack", "sustain", "long release", "beating", "noise")
"""What a render is described by; each grows with what its name says."""
SWEEP_STEP = 0.05
SILENT_DB = -60.0  # voices quieter than this at the origin are not described
_FRAME, _HOP = 1024, 256
_ALGORITHM = BY_NAME["algorithm"].index
_STRUCTURE = [p.index for p in VOICE_PARAMS if p.name.endswith(("_osc_mode", "_coarse", "_fine"))]
_LEVELS = [p.index for p in VOICE_PARAMS if p.name.endswith("_output_level")]


def structure(voice: Voice) -> tuple[int, ...]:
    """A voice's structure: the algorithm, every operator's oscillator mode, coarse and fine frequency, and which
    operators sound (output level above 0)."""
    return (voice[_ALGORITHM], *(voice[i] for i in _STRUCTURE), *(int(voice[i] > 0) for i in _LEVELS))


def describe(audio: np.ndarray, sample_rate: int, note_seconds: float) -> np.ndarray:
    """The :data:`DESCRIPTORS` of one render (held ``note_seconds``, then released): octaves, dB, seconds."""
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(audio, (0, _FRAME)), _FRAME)[::_HOP]
    level = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)) + 1e-9
    db = 20.0 * np.log10(level)
    time = np.arange(len(level)) * _HOP / sample_rate
    held = (time > 0.1) & (time < note_seconds - 0.05)
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(_FRAME), axis=1)) + 1e-9
    hz = np.fft.rfftfreq(_FRAME, 1.0 / sample_rate)
    weight = level[held] ** 2
    centroid = np.sum(spectrum[held] * hz, axis=1) / np.sum(spectrum[held], axis=1)
    flatness = np.exp(np.mean(np.log(spectrum[held]), axis=1)) / np.mean(spectrum[held], axis=1)
    peak = int(np.argmax(level))
    attack = time[int(np.argmax(level >= 0.9 * level[peak]))]
    end_of_hold = db[(time > note_seconds - 0.45) & (time < note_seconds - 0.05)].mean()
    released = db[(time > note_seconds + 0.2) & (time < note_seconds + 0.6)].mean()
    smooth = np.convolve(db[held], np.ones(21) / 21, mode="same")
    wobble = np.sqrt(np.mean((db[held] - smooth)[10:-10] ** 2))
    return np.array([np.log2(np.average(centroid, weights=weight) + 1.0), db[peak], attack,
                     max(end_of_hold, -100.0) - db[peak], max(released, -100.0) - max(end_of_hold, -100.0), wobble,
                     float(np.average(flatness, weights=weight))])


@dataclass(frozen=True)
class AxisName:
    """One axis, named.

    Attributes:
        name: what +1 does ("brightness": brighter).
        sign: +1, or -1 where the axis must be turned for +1 to mean more of it.
        scores: each descriptor's score (:data:`DESCRIPTORS` order), for the axis as it was.
    """

    name: str
    sign: int
    scores: tuple[float, ...]


def name_axes(tables: Sequence[MacroTable], renderer: Renderer, progress: Callable[[str], None] | None = None
              ) -> list[AxisName]:
    """Name every macro axis by what it does around the voices whose tables are given (see the module docstring).

    Raises:
        ValueError: fewer than 2 voices loud enough to describe.
    """
    def described(voice: Voice) -> np.ndarray:
        return describe(renderer.render(voice, 60, 85), renderer.sample_rate, renderer.note_seconds)

    origins, changes = [], []
    for number, table in enumerate(tables):
        origin = described(table.origin)
        if origin[1] < SILENT_DB:
            continue
        origins.append(origin)
        changes.append([described(table.voice_at(np.eye(table.count)[axis]))
                        - described(table.voice_at(-np.eye(table.count)[axis])) for axis in range(table.count)])
        if progress:
            progress(f"voice {number + 1}/{len(tables)}")
    if len(origins) < 2:
        raise ValueError(f"{len(origins)} of {len(tables)} voices are louder than {SILENT_DB} dB: name the macros on more")
    spread = np.std(origins, axis=0) + 1e-9
    delta = np.asarray(changes)  # (voices, axes, descriptors)
    mean = delta.mean(axis=0)
    scores = mean / spread * np.abs(mean / (np.sqrt(np.mean(delta ** 2, axis=0)) + 1e-12))
    strongest_first = np.argsort(-np.abs(scores).max(axis=1), kind="stable").tolist()
    by_axis: dict[int, AxisName] = {}
    for axis in strongest_first:
        order = np.argsort(-np.abs(scores[axis]), kind="stable")
        sign = 1 if scores[axis, order[0]] >= 0 else -1
        head = DESCRIPTORS[order[0]]
        candidates = [head, *(f"{head}, {'' if sign * scores[axis, other] >= 0 else 'less '}{DESCRIPTORS[other]}"
                              for other in order[1:])]
        taken = {named.name for named in by_axis.values()}
        name = next(candidate for candidate in candidates if candidate not in taken)
        by_axis[axis] = AxisName(name, sign, tuple(round(float(s), 3) for s in scores[axis]))
    return [by_axis[axis] for axis in range(len(by_axis))]


@dataclass(frozen=True)
class Sweep:
    """One axis swept from -1 to 1 around one voice.

    Attributes:
        steps: each step's spectral change (log-spectral MAE between neighbouring renders).
        changed: how many parameters each step changed.
        structure_kept: the voice's structure never changed.
    """

    steps: tuple[float, ...]
    changed: tuple[int, ...]
    structure_kept: bool


def sweep(table: MacroTable, axis: int, renderer: Renderer) -> Sweep:
    """Sweep ``axis`` of ``table`` from -1 to 1 in :data:`SWEEP_STEP` steps, every position rendered at (60, 85)."""
    positions = np.round(np.arange(-1.0, 1.0 + SWEEP_STEP / 2, SWEEP_STEP), 10)
    voices = [table.voice_at(np.eye(table.count)[axis] * value) for value in positions]
    magnitudes = [stft_magnitude(renderer.render(voice, 60, 85)) for voice in voices]
    steps = tuple(spec_mae(a, b) for a, b in zip(magnitudes, magnitudes[1:], strict=False))
    changed = tuple(len(a.diff(b)) for a, b in zip(voices, voices[1:], strict=False))
    kept = all(structure(voice) == structure(table.origin) for voice in voices)
    return Sweep(steps, changed, kept)


def steadiness(steps: Sequence[float]) -> dict[str, float]:
    """Median and largest step and their ratio (1 = every step changes the sound as much)."""
    median, p90 = percentiles(list(steps), (50, 90)).values()
    largest = max(steps)
    return {"median": round(median, 4), "p90": round(p90, 4), "max": round(largest, 4),
            "max_over_median": round(largest / median, 2) if median > 0 else float("inf")}
