"""How smooth a morph sounds: a path of renders scored step by step (``dexbridge eval-morph``).

A morph A -> B is played at evenly spaced positions and each position's voice rendered; the
distance between two renders is the log-spectral MAE of :func:`models.metrics.spec_mae`. A good
morph changes the sound a little at every step (a small largest step), takes no detour (its path
length is close to the direct A-B distance), heads steadily toward B (every step brings the sound
closer to B's) and starts and ends on the voices themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from models.metrics import spec_mae
from models.params import VOICE_PARAMS, Kind
from models.voice import Voice

__all__ = ["PathScore", "Summary", "ends_exact", "score_path", "summarise"]

_SOUND = [p.index for p in VOICE_PARAMS if p.kind is not Kind.NAME]  # VCED 0-144: everything but the name


@dataclass(frozen=True)
class PathScore:
    """One morph's path, scored.

    Attributes:
        largest_step: the largest distance between neighbouring positions.
        path_ratio: the summed step distances over the direct distance of the two ends (1 = no detour).
        toward: the share of steps after which the sound is strictly closer to the end's sound.
        ends_exact: the first and last positions play the end voices themselves.
        direct: the distance between the first and last renders.
        steps: each step's distance, in order.
    """

    largest_step: float
    path_ratio: float
    toward: float
    ends_exact: bool
    direct: float
    steps: tuple[float, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready fields."""
        return asdict(self)


def ends_exact(path: Sequence[Voice], start: Voice, end: Voice) -> bool:
    """Whether a path's first and last voices are ``start`` and ``end`` in every sound parameter
    (VCED 0-144; the name is not sound)."""
    return all(path[0][i] == start[i] and path[-1][i] == end[i] for i in _SOUND)


def score_path(magnitudes: Sequence[np.ndarray], *, exact: bool = True) -> PathScore:
    """Score a path from the magnitude spectrograms of its positions' renders.

    Args:
        magnitudes: ``models.metrics.stft_magnitude`` of each position's render, start to end (at least 2).
        exact: whether the ends are the end voices (:func:`ends_exact`); carried into the score.

    Raises:
        ValueError: fewer than two positions.
    """
    if len(magnitudes) < 2:
        raise ValueError(f"a morph path needs at least 2 positions (start and end), got {len(magnitudes)}")
    steps = [spec_mae(magnitudes[i], magnitudes[i + 1]) for i in range(len(magnitudes) - 1)]
    to_end = [spec_mae(magnitude, magnitudes[-1]) for magnitude in magnitudes]
    direct = to_end[0]
    toward = float(np.mean([to_end[i + 1] < to_end[i] for i in range(len(steps))]))
    ratio = sum(steps) / direct if direct > 0 else (1.0 if sum(steps) == 0 else float("inf"))
    return PathScore(max(steps), float(ratio), toward, exact, float(direct), tuple(steps))


@dataclass(frozen=True)
class Summary:
    """Scores of many paths of one method.

    Attributes:
        paths: how many paths.
        largest_step: the median of the paths' largest steps.
        path_ratio: the median of their path length / direct distance.
        toward: the share of all their steps that move toward the end.
        ends_exact: the share of paths whose ends are exact.
    """

    paths: int
    largest_step: float
    path_ratio: float
    toward: float
    ends_exact: float

    def to_dict(self) -> dict[str, float]:
        """JSON-ready fields."""
        return asdict(self)


def summarise(scores: Sequence[PathScore]) -> Summary:
    """Medians and shares over paths (each path's steps count alike in ``toward``).

    Raises:
        ValueError: no scores.
    """
    if not scores:
        raise ValueError("no morph paths to summarise")
    toward = sum(score.toward * len(score.steps) for score in scores) / sum(len(score.steps) for score in scores)
    return Summary(len(scores), float(np.median([s.largest_step for s in scores])),
                   float(np.median([s.path_ratio for s in scores])), float(toward),
                   float(np.mean([s.ends_exact for s in scores])))

