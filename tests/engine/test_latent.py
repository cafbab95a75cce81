"""Latent-space operations: interpolation, the 4-corner morph, macro controls."""

from __future__ import annotations

import re

import numpy as np
import pytest

from engine.latent import MACRO_SPAN, interpolate, macros_to_latent, morph_2d
from models.errors import ModelInputError
from models.latent_axes import fit_latent_axes

RNG = np.random.default_rng(0)
A, B, C, D = (RNG.standard_normal(16).astype(np.float32) for _ in range(4))


def test_interpolation_ends_at_its_points_and_halfway_is_the_mean() -> None:
    np.testing.assert_array_equal(interpolate(A, B, 0.0), A)
    np.testing.assert_array_equal(interpolate(A, B, 1.0), B)
    np.testing.assert_allclose(interpolate(A, B, 0.5), (A + B) / 2, atol=1e-6)


def test_morph_corners_are_the_corner_latents_and_its_edges_interpolate() -> None:
    corners = [A, B, C, D]
    for (x, y), corner in zip([(0, 0), (1, 0), (0, 1), (1, 1)], corners, strict=True):
        np.testing.assert_array_equal(morph_2d(corners, x, y), corner)
    np.testing.assert_allclose(morph_2d(corners, 0.3, 0.0), interpolate(A, B, 0.3), atol=1e-6)
    np.testing.assert_allclose(morph_2d(corners, 0.5, 0.5), (A + B + C + D) / 4, atol=1e-6)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: interpolate(A, B, 1.5), "t = 1.5: range 0..1"),
    (lambda: interpolate(A, B[:8], 0.5), "interpolate: latent points of shapes [(8,), (16,)]: need 1-D points of one size"),
    (lambda: interpolate(A, np.full(16, np.nan), 0.5), "interpolate: a latent point holds NaN or inf"),
    (lambda: morph_2d([A, B, C], 0.5, 0.5), "morph_2d takes 4 corner latents (top-left, top-right, bottom-left, bottom-right), "
                                            "got 3"),
    (lambda: morph_2d([A, B, C, D], 0.5, -0.1), "y = -0.1: range 0..1"),
])
def test_bad_arguments_are_refused(call: object, message: str) -> None:
    with pytest.raises(ModelInputError, match=re.escape(message)):
        call()  # type: ignore[operator]


def test_macros_at_zero_give_the_origin_and_move_along_the_principal_axes() -> None:
    points = RNG.standard_normal((200, 16)) * np.linspace(3.0, 0.1, 16)  # most variance in the first dimensions
    axes = fit_latent_axes(points, 3)
    np.testing.assert_allclose(macros_to_latent(axes, [0.0, 0.0, 0.0]), axes.mean, atol=1e-6)
    np.testing.assert_allclose(macros_to_latent(axes, [], origin=A), A, atol=1e-6)
    moved = macros_to_latent(axes, [1.0], origin=A)
    np.testing.assert_allclose(moved - A, MACRO_SPAN * axes.scales[0] * axes.components[0], atol=1e-5)
    with pytest.raises(ModelInputError, match=re.escape("4 macro values [1.0, 0.0, 0.0, 0.0]: give at most 3 finite values")):
        macros_to_latent(axes, [1.0, 0.0, 0.0, 0.0])
