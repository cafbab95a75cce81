"""Operations in the latent space zK: interpolation, the 4-corner morph, macro controls.

Points are latent vectors of one model (``Engine.encode`` gives a voice's). Moving in zK and
decoding forward through the regression flow morphs between voices along the learned manifold,
where interpolating raw parameter values would not.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models.errors import ModelInputError
from models.latent_axes import LatentAxes

__all__ = ["MACRO_SPAN", "interpolate", "macros_to_latent", "morph_2d"]

MACRO_SPAN = 2.0
"""A macro value of +-1 moves this many standard deviations of the training latents along its axis."""


def _points(points: Sequence[np.ndarray], what: str) -> np.ndarray:
    """(n, dim) float32 of same-shaped finite 1-D points."""
    arrays = [np.asarray(point, dtype=np.float32) for point in points]
    shapes = {array.shape for array in arrays}
    if len(shapes) != 1 or arrays[0].ndim != 1:
        raise ModelInputError(f"{what}: latent points of shapes {sorted(shapes)}: need 1-D points of one size")
    stacked = np.stack(arrays)
    if not np.isfinite(stacked).all():
        raise ModelInputError(f"{what}: a latent point holds NaN or inf")
    return stacked


def _weight(value: float, name: str) -> float:
    if not (np.isfinite(value) and 0.0 <= value <= 1.0):
        raise ModelInputError(f"{name} = {value}: range 0..1 (0 = first point, 1 = second)")
    return float(value)


def interpolate(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """The point a fraction ``t`` of the way from ``a`` to ``b`` (straight line in zK).

    Raises:
        ModelInputError: points of different shapes or non-finite, or ``t`` outside 0..1.
    """
    start, end = _points([a, b], "interpolate")
    t = _weight(t, "t")
    return (1.0 - t) * start + t * end


def morph_2d(corners: Sequence[np.ndarray], x: float, y: float) -> np.ndarray:
    """Bilinear morph over a square of four latents.

    Args:
        corners: four points: (x, y) = (0, 0), (1, 0), (0, 1), (1, 1), i.e. top-left, top-right,
            bottom-left, bottom-right of an XY pad.
        x: horizontal position 0..1.
        y: vertical position 0..1.

    Raises:
        ModelInputError: not four same-shaped finite points, or x / y outside 0..1.
    """
    if len(corners) != 4:
        raise ModelInputError(
            f"morph_2d takes 4 corner latents (top-left, top-right, bottom-left, bottom-right), got {len(corners)}"
        )
    points = _points(corners, "morph_2d")
    x, y = _weight(x, "x"), _weight(y, "y")
    top = (1.0 - x) * points[0] + x * points[1]
    bottom = (1.0 - x) * points[2] + x * points[3]
    return (1.0 - y) * top + y * bottom


def macros_to_latent(axes: LatentAxes, values: Sequence[float], origin: np.ndarray | None = None) -> np.ndarray:
    """The latent point ``origin`` moved along the principal axes by macro values.

    Args:
        axes: the checkpoint's latent axes.
        values: up to ``axes.count`` values, nominally -1..1 (:data:`MACRO_SPAN` standard deviations
            each); missing ones are 0.
        origin: where all-zero macros land; default the mean training latent.

    Raises:
        ModelInputError: more values than axes, a non-finite value, or an origin of the wrong size.
    """
    amounts = np.asarray(values, dtype=np.float32).reshape(-1)
    if amounts.size > axes.count or not np.isfinite(amounts).all():
        raise ModelInputError(
            f"{amounts.size} macro values {amounts.tolist()}: give at most {axes.count} finite values (nominally -1..1)"
        )
    base = axes.mean if origin is None else _points([origin, axes.mean], "macros_to_latent origin")[0]
    steps = amounts * axes.scales[: amounts.size] * MACRO_SPAN
    return (base + steps @ axes.components[: amounts.size]).astype(np.float32)
