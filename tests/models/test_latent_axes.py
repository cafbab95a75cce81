"""Principal axes of latents: PCA, encoding voices through the inverse regression flow, storage in checkpoints."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from bridge.midi.syxfile import read_syx_voices
from models.checkpoint import load_checkpoint, save_checkpoint
from models.errors import CheckpointError, ModelInputError
from models.latent_axes import LatentAxes, encode_voices, fit_latent_axes, regression_flow
from models.representations import get_representation


def test_pca_axes_are_orthonormal_ordered_and_scaled_by_the_spread() -> None:
    rng = np.random.default_rng(0)
    points = rng.standard_normal((500, 6)) * np.array([5.0, 2.0, 1.0, 0.5, 0.2, 0.1]) + 3.0
    axes = fit_latent_axes(points, 3)
    np.testing.assert_allclose(axes.components @ axes.components.T, np.eye(3), atol=1e-5)
    np.testing.assert_allclose(np.abs(axes.components[:, :3]), np.eye(3), atol=0.05)
    np.testing.assert_allclose(axes.scales, [5.0, 2.0, 1.0], rtol=0.1)
    np.testing.assert_allclose(axes.mean, points.mean(axis=0), atol=1e-5)


def test_too_many_axes_are_refused() -> None:
    with pytest.raises(ModelInputError, match=re.escape("5 latent axes requested from 4 points: range 1..3")):
        fit_latent_axes(np.zeros((4, 8)), 5)


def test_voices_encode_through_the_inverse_regression_flow(tiny_checkpoint: Path, brass_path: Path) -> None:
    checkpoint = load_checkpoint(tiny_checkpoint)
    flow = regression_flow(checkpoint.config.model, checkpoint.serving_state)
    voices = [item.voice for item in read_syx_voices(brass_path).voices]
    latents = encode_voices(flow, checkpoint.representation, voices)
    assert latents.shape == (32, checkpoint.latent_dim) and latents.dtype == np.float32
    with torch.no_grad():
        params = flow(torch.from_numpy(latents))[0].numpy()
    np.testing.assert_allclose(params, get_representation(checkpoint.representation).encode_batch(voices), atol=1e-4)


def test_checkpoints_store_the_axes_and_load_without_them(tiny_checkpoint: Path, tmp_path: Path) -> None:
    checkpoint = load_checkpoint(tiny_checkpoint)
    assert checkpoint.latent_axes is None  # a file written without axes loads as before
    axes = fit_latent_axes(np.random.default_rng(0).standard_normal((40, checkpoint.latent_dim)), 4)
    saved = save_checkpoint(tmp_path / "axes.pt", dataclasses.replace(checkpoint, latent_axes=axes))
    loaded = load_checkpoint(saved).latent_axes
    assert loaded is not None and loaded.count == 4
    np.testing.assert_array_equal(loaded.components, axes.components)
    wrong = LatentAxes(np.zeros(8, np.float32), np.zeros((2, 8), np.float32), np.ones(2, np.float32))
    bad = save_checkpoint(tmp_path / "bad.pt", dataclasses.replace(checkpoint, latent_axes=wrong))
    with pytest.raises(CheckpointError, match=re.escape(f"latent axes of size 8 for a {checkpoint.latent_dim}-d latent")):
        load_checkpoint(bad)


def test_names_are_stored_with_the_axes_and_a_file_without_names_gets_numbered_ones(tiny_checkpoint: Path,
                                                                                     tmp_path: Path) -> None:
    checkpoint = load_checkpoint(tiny_checkpoint)
    axes = fit_latent_axes(np.random.default_rng(0).standard_normal((40, checkpoint.latent_dim)), 3)
    assert axes.names == ("macro 1", "macro 2", "macro 3")
    named = axes.named(["brightness", "sustain", "noise"], [1, -1, 1])
    np.testing.assert_array_equal(named.components, axes.components * np.array([[1], [-1], [1]], np.float32))
    path = save_checkpoint(tmp_path / "named.pt", dataclasses.replace(checkpoint, latent_axes=named))
    loaded = load_checkpoint(path).latent_axes
    assert loaded is not None and loaded.names == ("brightness", "sustain", "noise")
    payload = torch.load(path, weights_only=True)
    del payload["latent_axes"]["names"]  # as files written before names were stored
    torch.save(payload, tmp_path / "old.pt")
    old = load_checkpoint(tmp_path / "old.pt").latent_axes
    assert old is not None and old.names == ("macro 1", "macro 2", "macro 3")
    with pytest.raises(ModelInputError, match=re.escape("names ['a', 'a', 'b']: need 3 distinct names")):
        axes.named(["a", "a", "b"], [1, 1, 1])
