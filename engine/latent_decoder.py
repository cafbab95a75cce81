"""latent -> voice on one CPU thread: the regression flow as pre-packed NumPy matrices, then the decode.

A morph or macro step decodes one latent point. At batch 1 the regression flow (NumCat++: six
couplings, each a 305 -> 300 -> 610 network, 6.6 MB of float32 weights) is a dozen matrix-vector
products; run as torch operators most of the time goes to dispatch. :class:`PackedFlow` packs
each coupling network once, at load, into contiguous float32 matrices, transposed and with the
bias as an extra row (the inputs carry a trailing 1), with the tanh bound's ``1 / max_log_scale``
folded into the log-scale rows; the two parity halves stay apart from input to output (each
coupling conditions on one and transforms the other in place, as
:class:`engine.backends.staged.FlowForward`), and every product and activation writes into
buffers kept per thread: no torch, no allocation per call but the result. The products read the
weights once per call, which is what the time is (docs/results.md, *dexbridge bench*). float32 agrees with
eager torch to a few 1e-6 on outputs up to ~8 (``tests/engine/test_latent_decoder.py``); float64
would read twice the bytes for nothing the decode can see.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from torch import nn

from models.flows import RealNVP
from models.representations import Representation
from models.voice import Voice

__all__ = ["LatentDecoder", "PackedFlow"]


@dataclass(frozen=True)
class _Coupling:
    """One coupling, packed: (inputs + 1, outputs) float32 matrices with the bias as the last row."""

    parity: int
    hidden: tuple[np.ndarray, ...]
    last: np.ndarray
    max_log_scale: float

    @property
    def transformed(self) -> int:
        """Features this coupling transforms (half of the last layer's outputs)."""
        return self.last.shape[1] // 2


def _packed(layer: nn.Linear, scale: np.ndarray | None = None) -> np.ndarray:
    """``layer``'s weight transposed with its bias appended as a row, times ``scale`` per output."""
    matrix = np.concatenate([layer.weight.detach().cpu().double().numpy().T, layer.bias.detach().cpu().double().numpy()[None]])
    if scale is not None:
        matrix = matrix * scale
    return np.ascontiguousarray(matrix, dtype=np.float32)


def _pack(flow: RealNVP) -> list[_Coupling]:
    couplings = []
    for coupling in flow.couplings:
        linears = [module for module in coupling.net if isinstance(module, nn.Linear)]
        transformed = linears[-1].out_features // 2
        scale = np.ones(2 * transformed)
        scale[:transformed] = 1.0 / coupling.max_log_scale  # tanh(raw / m) reads raw already divided
        couplings.append(_Coupling(int(coupling.conditioner_index[0]), tuple(_packed(layer) for layer in linears[:-1]),
                                   _packed(linears[-1], scale), float(coupling.max_log_scale)))
    return couplings


class _Buffers:
    """Working arrays for ``rows`` latent points, with every view the couplings read and write made once.

    Both halves and every hidden layer carry a trailing column of ones (the bias row's input).
    """

    def __init__(self, couplings: list[_Coupling], dim: int, rows: int) -> None:
        self.even = np.ones((rows, (dim + 1) // 2 + 1), np.float32)
        self.odd = np.ones((rows, dim // 2 + 1), np.float32)
        halves = (self.even, self.odd)
        self.steps: list[_Step] = []
        for coupling in couplings:
            features, layers = halves[coupling.parity], []
            for matrix in coupling.hidden:
                layer = np.ones((rows, matrix.shape[1] + 1), np.float32)
                layers.append((features, matrix, layer[:, :-1]))
                features = layer
            out = np.empty((rows, coupling.last.shape[1]), np.float32)
            count = coupling.transformed
            self.steps.append(_Step(tuple(layers), features, coupling.last, out, out[:, :count], out[:, count:],
                                    halves[1 - coupling.parity][:, :-1], np.float32(coupling.max_log_scale)))


@dataclass(frozen=True)
class _Step:
    """One coupling on its buffers: hidden layers as (input, matrix, output) and the affine update."""

    hidden: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]
    features: np.ndarray
    last: np.ndarray
    out: np.ndarray
    scale: np.ndarray
    shift: np.ndarray
    target: np.ndarray
    max_log_scale: np.float32


class PackedFlow:
    """A :class:`RealNVP`'s forward map (without the log-determinant) in NumPy float32; thread-safe.

    Args:
        flow: the flow; its weights are copied, later changes to it are not seen.
    """

    def __init__(self, flow: RealNVP) -> None:
        self.dim = flow.dim
        self._couplings = _pack(flow)
        self._local = threading.local()

    def _buffers(self, rows: int) -> _Buffers:
        if rows != 1:
            return _Buffers(self._couplings, self.dim, rows)
        buffers = getattr(self._local, "buffers", None)
        if buffers is None:
            buffers = self._local.buffers = _Buffers(self._couplings, self.dim, 1)
        return buffers

    def forward(self, x: np.ndarray) -> np.ndarray:
        """y = flow(x)[0] for x of shape (N, dim): a new float32 array."""
        buffers = self._buffers(len(x))
        buffers.even[:, :-1] = x[:, 0::2]
        buffers.odd[:, :-1] = x[:, 1::2]
        matmul, maximum = np.matmul, np.maximum
        for step in buffers.steps:
            for features, matrix, values in step.hidden:
                matmul(features, matrix, out=values)
                maximum(values, 0.0, out=values)
            matmul(step.features, step.last, out=step.out)
            scale = step.scale
            np.tanh(scale, out=scale)
            np.multiply(scale, step.max_log_scale, out=scale)
            np.exp(scale, out=scale)
            np.multiply(step.target, scale, out=step.target)
            np.add(step.target, step.shift, out=step.target)
        y = np.empty((len(x), self.dim), np.float32)
        y[:, 0::2] = buffers.even[:, :-1]
        y[:, 1::2] = buffers.odd[:, :-1]
        return y


class LatentDecoder:
    """latent point -> representation vector -> :class:`Voice`, for any backend's engine.

    Args:
        flow: the checkpoint's regression flow (zK -> representation vector).
        representation: decodes the vector.
    """

    def __init__(self, flow: RealNVP, representation: Representation) -> None:
        self.flow = PackedFlow(flow)
        self.representation = representation

    def voice(self, latent: np.ndarray, template: Voice | None = None) -> Voice:
        """The voice at one latent point (dim,), the parameters not learned taken from ``template``."""
        return self.representation.decode(self.flow.forward(latent[None])[0], template)
