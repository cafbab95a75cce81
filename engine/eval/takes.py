"""Several notes in, one voice out, measured: held-out voices rendered at the paper's six notes.

For each test voice, its renders at :data:`models.render.MULTI_NOTES` ((40, 85) (50, 85) (60, 42)
(60, 85) (60, 127) (70, 85)) are the takes. Three answers are scored:

- ``one take``: :meth:`engine.runtime.Engine.infer` from the (60, 85) take alone;
- ``six takes``: :meth:`engine.runtime.Engine.infer_takes` from all six;
- ``nearest``: the library voice, among the 16 nearest the (60, 85) take by embedding, whose renders
  at the six notes are closest to the takes (retrieval on the same six notes).

Each answer is rendered at the six notes and compared with the takes (log-spectral MAE per note and
their mean), and its key and velocity parameters with the original's, as the paper reports them:
MAE over the numerical ones scaled to [0, 1] (rate scaling, key velocity sensitivity, break point,
left and right depths) and the share of the categorical ones right (left and right curves).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from engine.runtime import Engine
from engine.takes import Take
from models.metrics import spec_mae, stft_magnitude
from models.params import BY_NAME, TRANSPOSE_INDEX
from models.render import MULTI_NOTES, NOTE_SECONDS, Note, Renderer
from models.voice import Voice

__all__ = ["ANSWERS", "KEY_VELOCITY_CURVES", "KEY_VELOCITY_NUMERICAL", "TakesScore", "score_voice", "summarise", "to_json"]

ANSWERS = ("one take", "six takes", "nearest")
KEY_VELOCITY_NUMERICAL = ("rate_scaling", "key_vel_sens", "break_point", "left_depth", "right_depth")
KEY_VELOCITY_CURVES = ("left_curve", "right_curve")
NEAREST_POOL = 16
WORSE_BY = 1e-3
"""A six-note MAE counts as worse than another beyond this (the search scores the takes as conditioned, a
few 1e-4 from these renders)."""
_NUM = [BY_NAME[f"op{op}_{name}"] for op in range(1, 7) for name in KEY_VELOCITY_NUMERICAL]
_CURVES = [BY_NAME[f"op{op}_{name}"] for op in range(1, 7) for name in KEY_VELOCITY_CURVES]


@dataclass(frozen=True)
class TakesScore:
    """One answer to one test voice.

    Attributes:
        per_note: log-spectral MAE at each of the six (note, velocity) pairs.
        spec_mae: their mean.
        key_vel_mae: MAE of the key and velocity numerical parameters, each scaled to [0, 1].
        curve_acc: share of the left / right curves right.
    """

    per_note: tuple[float, ...]
    spec_mae: float
    key_vel_mae: float
    curve_acc: float


def _key_velocity(target: Voice, answer: Voice) -> tuple[float, float]:
    numerical = np.mean([abs(target[p.index] - answer[p.index]) / (p.hi - p.lo) for p in _NUM])
    curves = np.mean([target[p.index] == answer[p.index] for p in _CURVES])
    return float(numerical), float(curves)


def _score(target: Voice, answer: Voice, magnitudes: Sequence[np.ndarray], renderer: Renderer,
           notes: Sequence[Note]) -> TakesScore:
    per_note = tuple(spec_mae(magnitude, stft_magnitude(renderer.render(answer, note, velocity)))
                     for magnitude, (note, velocity) in zip(magnitudes, notes, strict=True))
    numerical, curves = _key_velocity(target, answer)
    return TakesScore(per_note, float(np.mean(per_note)), numerical, curves)


def score_voice(engine: Engine, voice: Voice, *, renderer: Renderer | None = None,
                notes: Sequence[Note] = MULTI_NOTES) -> dict[str, TakesScore]:
    """Every answer's scores for one held-out voice (see the module docstring).

    Raises:
        ModelInputError: a render the engine refuses (silence).
    """
    renderer = renderer or Renderer(engine.sample_rate, NOTE_SECONDS, engine.checkpoint.config.frontend.duration_s)
    audio = [renderer.render(voice, note, velocity) for note, velocity in notes]
    magnitudes = [stft_magnitude(take) for take in audio]
    reference = list(notes).index((60, 85))
    answers = {
        "one take": engine.infer(audio[reference], engine.sample_rate).voice,
        "six takes": engine.infer_takes([Take(take, engine.sample_rate, note, velocity)
                                         for take, (note, velocity) in zip(audio, notes, strict=True)]).voice,
    }
    if engine.library is not None and len(engine.library):
        query = engine.embed_recording(audio[reference], engine.sample_rate)
        transpose = {TRANSPOSE_INDEX: voice[TRANSPOSE_INDEX]}  # retrieval is not asked for the pitch
        pool = [m.voice.replace(transpose) for m in engine.library.search(query, NEAREST_POOL)]
        takes = engine.search.targets([Take(take, engine.sample_rate, note, velocity)
                                       for take, (note, velocity) in zip(audio, notes, strict=True)])
        answers["nearest"] = min(pool, key=lambda candidate: engine.search.score(candidate, takes))
    return {name: _score(voice, answer, magnitudes, renderer, notes) for name, answer in answers.items()}


def summarise(scores: Sequence[dict[str, TakesScore]]) -> dict[str, dict[str, object]]:
    """Per answer: the mean per-note MAE, their mean, the key/velocity parameter MAE and curve accuracy, and
    on how many voices its six-note MAE is worse than the one-take answer's."""
    summary: dict[str, dict[str, object]] = {}
    for name in ANSWERS:
        rows = [row[name] for row in scores if name in row]
        if rows:
            summary[name] = {
                "voices": len(rows),
                "per_note": [float(np.mean(column)) for column in zip(*(r.per_note for r in rows), strict=True)],
                "spec_mae": float(np.mean([r.spec_mae for r in rows])),
                "key_vel_mae": float(np.mean([r.key_vel_mae for r in rows])),
                "curve_acc": float(np.mean([r.curve_acc for r in rows])),
                "worse_than_one_take": sum(1 for row in scores if name in row and "one take" in row
                                           and row[name].spec_mae > row["one take"].spec_mae + WORSE_BY),
            }
    return summary


def to_json(scores: dict[str, TakesScore]) -> dict[str, object]:
    """One voice's scores as JSON values."""
    return {name: asdict(score) for name, score in scores.items()}
