"""How smooth a morph sounds: a path of renders scored step by step (``dexbridge eval-morph``).

A morph A -> B is played at evenly spaced positions and each position's voice rendered; the
distance between two renders is the log-spectral MAE of :func:`models.metrics.spec_mae`. A good
morph changes the sound a little at every step (a small largest step), takes no detour (its path
length is close to the direct A-B distance), heads steadily toward B (every step brings the sound
closer to B's) and starts and ends on the voices themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from models.metrics import spec_mae
from models.params import VOICE_PARAMS, Kind
from models.voice import Voice

__all__ = ["PAD_DIAGONALS", "PAD_EDGES", "PAD_LINES", "PathScore", "Summary", "ends_exact", "positions", "score_line",
           "score_pad", "score_path", "summarise"]

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



Line = Callable[[float], Voice]
"""A 1-D morph: position 0..1 -> voice."""
Pad = Callable[[float, float], Voice]
"""A 4-corner pad: (x, y) in 0..1 x 0..1 -> voice."""
Magnitude = Callable[[Voice], np.ndarray]
"""A voice -> the magnitude spectrogram of its render (``models.metrics.stft_magnitude`` at (60, 85))."""

PAD_LINES: dict[str, tuple[Callable[[float], tuple[float, float]], int, int]] = {
    "top A-B": (lambda t: (t, 0.0), 0, 1),
    "bottom C-D": (lambda t: (t, 1.0), 2, 3),
    "left A-C": (lambda t: (0.0, t), 0, 2),
    "right B-D": (lambda t: (1.0, t), 1, 3),
    "diagonal A-D": (lambda t: (t, t), 0, 3),
    "diagonal B-C": (lambda t: (1.0 - t, t), 1, 2),
}
"""The lines a pad is measured along: (position at t, start corner, end corner); corners A B C D = 0 1 2 3."""
PAD_EDGES = ("top A-B", "bottom C-D", "left A-C", "right B-D")
PAD_DIAGONALS = ("diagonal A-D", "diagonal B-C")


def positions(steps: int) -> np.ndarray:
    """``steps`` evenly spaced positions from 0 to 1, both included.

    Raises:
        ValueError: fewer than 2.
    """
    if steps < 2:
        raise ValueError(f"a morph is measured at 2 positions or more (its ends), got {steps}")
    return np.linspace(0.0, 1.0, steps)


def score_line(line: Line, start: Voice, end: Voice, steps: int, magnitude: Magnitude) -> tuple[PathScore, list[np.ndarray]]:
    """Play a morph at ``steps`` positions, render each and score the path.

    Returns:
        The score and each position's magnitude spectrogram (for pictures).
    """
    voices = [line(float(x)) for x in positions(steps)]
    magnitudes = [magnitude(voice) for voice in voices]
    return score_path(magnitudes, exact=ends_exact(voices, start, end)), magnitudes


def score_pad(pad: Pad, corners: Sequence[Voice], steps: int, magnitude: Magnitude) -> dict[str, PathScore]:
    """Score a pad along its four edges and two diagonals (:data:`PAD_LINES`)."""
    scores = {}
    for name, (at, first, last) in PAD_LINES.items():
        scores[name] = score_line(lambda t, at=at: pad(*at(t)), corners[first], corners[last], steps, magnitude)[0]
    return scores
