"""Morph runs for ``dexbridge eval-morph``: draw pairs and four-corner sets of distinct voices, play each morph
method as the daemon plays it (:mod:`engine.morph_path`, :mod:`engine.morph_plan`), render every position at
(60, 85) and score the paths (:mod:`engine.eval.morph`); macro moves as the daemon plays them (:data:`MACRO_METHOD`,
:mod:`engine.macro_table`) against naive interpolation to the same end; the planner's time per plan; the report's
table."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from engine.eval.morph import PAD_DIAGONALS, PAD_EDGES, Line, Pad, PathScore, score_line, score_pad, summarise
from engine.latent import interpolate, morph_2d
from engine.morph_path import blend, naive_pad, nearest_end, with_template
from engine.morph_plan import compile_planner, plan_morph, plan_pad
from models.dsp import percentiles
from models.errors import EvaluationError
from models.metrics import stft_magnitude
from models.params import TRANSPOSE_INDEX
from models.render import Renderer
from models.voice import Voice

__all__ = ["Methods", "distinct_sounds", "draw", "format_table", "measure"]

PARTS = ("line", "pad edges", "pad diagonals", "macro")
MACRO_AXES = 4  # macro moves measured on the first axes, in turn, each direction in turn
MACRO_METHOD = "table"
"""How the daemon plays macros, whatever the morph method: delta decoding from the voice's macro table."""


class Methods:
    """Each method's line and pad, as the daemon plays them, with the planner's time per plan.

    Args:
        engine: an :class:`engine.runtime.Engine` for ``latent`` (None when it is not measured).
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        compile_planner()
        self.plan_ms: dict[str, list[float]] = {"line": [], "pad": []}

    def line(self, method: str, a: Voice, b: Voice) -> Line:
        """The 1-D morph A -> B of ``method``."""
        if method == "naive":
            return partial(blend, a, b)
        if method == "planned":
            started = time.perf_counter()
            plan = plan_morph(a, b)
            self.plan_ms["line"].append((time.perf_counter() - started) * 1000.0)
            return plan.voice_at
        za, zb = self.engine.encode(a), self.engine.encode(b)
        return lambda x: with_template(self.engine.decode(interpolate(za, zb, x)), nearest_end((a, b), x))

    def pad(self, method: str, corners: Sequence[Voice]) -> Pad:
        """The pad over A B C D of ``method``."""
        if method == "naive":
            return partial(naive_pad, corners)
        if method == "planned":
            started = time.perf_counter()
            plan = plan_pad(corners)
            self.plan_ms["pad"].append((time.perf_counter() - started) * 1000.0)
            return plan.voice_at
        latents = [self.engine.encode(corner) for corner in corners]
        return lambda x, y: with_template(self.engine.decode(morph_2d(latents, x, y)), nearest_end(corners, x, y))

    def macro(self, method: str, origin: Voice, axis: int, sign: int) -> tuple[Line, Voice]:
        """Macro ``axis`` moved from 0 to ``sign`` around ``origin`` as the daemon moves it (:data:`MACRO_METHOD`),
        or by naive interpolation to the same end; and where it ends."""
        table = self.engine.macro_table(origin)
        unit = np.eye(table.count)[axis] * sign

        def move(amount: float) -> Voice:
            return table.voice_at(unit * amount)

        end = move(1.0)
        return (move if method == MACRO_METHOD else partial(blend, origin, end)), end


def distinct_sounds(voices: Sequence[Voice]) -> list[Voice]:
    """The voices with the first of each sound (VCED 0-144; names aside): a morph between two voices
    that sound the same has nothing to measure."""
    seen: dict[tuple[int, ...], Voice] = {}
    for voice in voices:
        seen.setdefault(voice.values[:TRANSPOSE_INDEX + 1], voice)
    return list(seen.values())


def draw(voices: Sequence[Voice], count: int, size: int, seed: int) -> list[list[int]]:
    """``count`` sets of ``size`` distinct voice indices, seeded (different sets may share voices).

    Raises:
        EvaluationError: fewer voices than ``size``.
    """
    if len(voices) < size:
        raise EvaluationError(f"{len(voices)} distinct voices: a morph set needs {size}")
    rng = random.Random(seed)
    return [rng.sample(range(len(voices)), size) for _ in range(count)]


def measure(voices: Sequence[Voice], methods: Sequence[str], pairs: int, quads: int, steps: int, seed: int,
            engine: Any, keep: int = 0, macros: int = 0, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Score every method on ``pairs`` pairs, ``quads`` four-corner sets and ``macros`` macro moves.

    Args:
        keep: how many pairs' magnitude spectrograms to keep, per method, for :func:`morph_plot.draw_strips`.
        macros: macro moves from 0 to +-1, around the first voices of the pairs, as the daemon plays them
            (:data:`MACRO_METHOD`) and, when ``naive`` is measured, naive interpolation to the same end (needs
            ``engine`` with macro axes).

    Returns:
        A JSON-ready report (summaries per method and part, per-path scores, planning times) and,
        under ``"strips"`` (not JSON), the kept spectrograms.
    """
    renderer = Renderer()
    magnitude = lambda voice: stft_magnitude(renderer.render(voice, 60, 85))  # noqa: E731 - one line
    players = Methods(engine)
    line_sets, pad_sets = draw(voices, pairs, 2, seed), draw(voices, quads, 4, seed + 1)
    axes = 0 if engine is None else min(MACRO_AXES, engine.macro_count)
    macro_methods = [MACRO_METHOD, *(["naive"] if "naive" in methods else [])] if macros and axes else []
    scores: dict[str, dict[str, list[PathScore]]] = {m: {part: [] for part in PARTS} for m in [*methods, MACRO_METHOD]}
    strips: dict[str, list[tuple[str, list[np.ndarray]]]] = {m: [] for m in methods}
    for number, (i, j) in enumerate(line_sets):
        a, b = voices[i], voices[j]
        for method in methods:
            score, magnitudes = score_line(players.line(method, a, b), a, b, steps, magnitude)
            scores[method]["line"].append(score)
            if number < keep:
                strips[method].append((f"{a.name.strip()} -> {b.name.strip()}", magnitudes))
        if progress:
            progress(f"pair {number + 1}/{len(line_sets)}")
    for number, quad in enumerate(pad_sets):
        corners = [voices[i] for i in quad]
        for method in methods:
            lines = score_pad(players.pad(method, corners), corners, steps, magnitude)
            scores[method]["pad edges"] += [lines[name] for name in PAD_EDGES]
            scores[method]["pad diagonals"] += [lines[name] for name in PAD_DIAGONALS]
        if progress:
            progress(f"pad {number + 1}/{len(pad_sets)}")
    for number in range(macros if macro_methods else 0):
        origin = voices[line_sets[number % len(line_sets)][0]]
        axis, sign = number % axes, 1 if (number // axes) % 2 == 0 else -1
        for method in macro_methods:
            move, end = players.macro(method, origin, axis, sign)
            scores[method]["macro"].append(score_line(move, origin, end, steps, magnitude)[0])
        if progress:
            progress(f"macro {number + 1}/{macros}")
    return {
        "steps": steps, "pairs": [list(p) for p in line_sets], "quads": [list(q) for q in pad_sets], "seed": seed,
        "summary": {m: {part: summarise(s).to_dict() for part, s in parts.items() if s} for m, parts in scores.items()
                    if any(parts.values())},
        "paths": {m: {part: [s.to_dict() for s in found] for part, found in parts.items()} for m, parts in scores.items()},
        "plan_ms": {kind: _plan_times(times) for kind, times in players.plan_ms.items() if times},
        "strips": strips,
    }


def _plan_times(times: list[float]) -> dict[str, float]:
    median, p90 = percentiles(times, (50, 90)).values()
    return {"median": round(median, 1), "p90": round(p90, 1), "max": round(max(times), 1), "plans": len(times)}


def format_table(report: dict[str, Any]) -> str:
    """A Markdown table: one row per method and part; largest step and detour also as multiples of naive's."""
    summary = report["summary"]
    lines = [f"| {report['steps']}-position morph A -> B | paths | largest step (median) | path / direct (median) "
             "| steps toward B | ends exact |", "|---|---|---|---|---|---|"]
    for part in PARTS:
        naive = summary.get("naive", {}).get(part)
        for method, parts in summary.items():
            row = parts.get(part)
            if row is None:
                continue
            step, ratio = f"{row['largest_step']:.3f}", f"{row['path_ratio']:.2f}"
            if naive is not None and method != "naive" and naive["largest_step"] > 0 and naive["path_ratio"] > 0:
                step += f" ({row['largest_step'] / naive['largest_step']:.2f}x naive)"
                ratio += f" ({row['path_ratio'] / naive['path_ratio']:.2f}x naive)"
            lines.append(f"| {method}, {part} | {row['paths']} | {step} | {ratio} | {row['toward']:.0%} | "
                         f"{row['ends_exact']:.0%} |")
    return "\n".join(lines)
