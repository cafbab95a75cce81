"""Principal axes of the training latents: the macro controls' directions.

A voice's latent point is zK = inverse regression flow (representation vector). The principal
axes of the train split's latents (PCA by SVD) let k sliders span the directions in which the
corpus varies most; the axes are stored in the serving checkpoint (``latent_axes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from models.config import ModelConfig
from models.errors import ModelInputError
from models.flows import RealNVP
from models.layout import DEFAULT_AXES as DEFAULT_AXES  # where it always was imported from
from models.representations import get_representation
from models.voice import Voice

REGRESSION_PREFIX = "regression_flow."
ENCODE_BATCH = 1024


@dataclass(frozen=True)
class LatentAxes:
    """Mean and principal axes of a set of latent points, and what each does to the sound.

    Attributes:
        mean: (latent_dim,) float32 mean latent.
        components: (k, latent_dim) float32 orthonormal axes, most variance first.
        scales: (k,) float32 standard deviation of the latents along each axis.
        names: k distinct macro names, measured by ``dexbridge macros --write`` (``brightness``: the
            macro at +1 makes the sound brighter); empty gives ``macro 1`` .. ``macro k``.
    """

    mean: np.ndarray
    components: np.ndarray
    scales: np.ndarray
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        k, dim = self.components.shape
        if self.mean.shape != (dim,) or self.scales.shape != (k,):
            raise ModelInputError(
                f"latent axes: mean {self.mean.shape}, components {self.components.shape}, scales {self.scales.shape}: "
                "need (latent_dim,), (k, latent_dim) and (k,)"
            )
        if not self.names:
            object.__setattr__(self, "names", tuple(f"macro {axis + 1}" for axis in range(k)))
        if len(self.names) != k or len(set(self.names)) != k:
            raise ModelInputError(f"latent axes: names {list(self.names)}: need {k} distinct names, one per axis")

    @property
    def count(self) -> int:
        """Number of axes k."""
        return int(self.components.shape[0])

    def named(self, names: Sequence[str], signs: Sequence[int]) -> LatentAxes:
        """These axes with new names, each turned by its sign (-1: +1 and -1 swap)."""
        turned = self.components * np.asarray(signs, dtype=np.float32)[:, None]
        return LatentAxes(self.mean, turned.astype(np.float32), self.scales, tuple(names))

    def to_payload(self) -> dict[str, torch.Tensor | list[str]]:
        """The axes as tensors and the names as strings, for a weights-only checkpoint."""
        payload: dict[str, torch.Tensor | list[str]] = {
            name: torch.from_numpy(np.ascontiguousarray(getattr(self, name))) for name in ("mean", "components", "scales")}
        payload["names"] = list(self.names)
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> LatentAxes:
        """The axes of :meth:`to_payload` output (a checkpoint saved before names gets the default names)."""
        tensors = (payload[name].detach().cpu().float().numpy() for name in ("mean", "components", "scales"))
        return cls(*tensors, names=tuple(str(name) for name in payload.get("names", ())))


def fit_latent_axes(latents: np.ndarray, count: int) -> LatentAxes:
    """PCA of latent points (rows).

    Args:
        latents: (N, latent_dim) latent points, N >= 2.
        count: number of axes k, 1..min(N - 1, latent_dim).

    Raises:
        ModelInputError: too few points, ``count`` out of range, or non-finite latents.
    """
    points = np.asarray(latents, dtype=np.float64)
    if points.ndim != 2 or len(points) < 2 or not np.isfinite(points).all():
        raise ModelInputError(f"latents of shape {points.shape}: need (N >= 2, latent_dim) finite points")
    most = min(len(points) - 1, points.shape[1])
    if not 1 <= count <= most:
        raise ModelInputError(f"{count} latent axes requested from {len(points)} points: range 1..{most}")
    mean = points.mean(axis=0)
    _, singular, rows = np.linalg.svd(points - mean, full_matrices=False)
    scales = singular[:count] / np.sqrt(len(points) - 1)
    return LatentAxes(mean.astype(np.float32), rows[:count].astype(np.float32), scales.astype(np.float32))


def regression_flow(config: ModelConfig, serving_state: dict[str, torch.Tensor]) -> RealNVP:
    """The regression flow (zK -> representation vector) of serving weights, in eval mode."""
    flow = RealNVP(config.latent_dim, config.flow_layers, config.flow_hidden, config.flow_hidden_layers,
                   config.flow_max_log_scale)
    state = {key.removeprefix(REGRESSION_PREFIX): value for key, value in serving_state.items()
             if key.startswith(REGRESSION_PREFIX)}
    flow.load_state_dict(state)
    return flow.eval()


@torch.no_grad()
def encode_voices(flow: RealNVP, representation: str, voices: Sequence[Voice]) -> np.ndarray:
    """Latent points zK (N, latent_dim) float32 of voices: the inverse regression flow of their vectors."""
    codec = get_representation(representation)
    chunks = [flow.inverse(torch.from_numpy(codec.encode_batch(voices[start : start + ENCODE_BATCH]))).numpy()
              for start in range(0, len(voices), ENCODE_BATCH)]
    return np.concatenate(chunks) if chunks else np.zeros((0, flow.dim), dtype=np.float32)
