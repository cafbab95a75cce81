"""latent -> voice on one CPU thread: the regression flow as one compiled loop over packed weights, then the decode.

A morph or macro step decodes one latent point. At batch 1 the regression flow (NumCat++: six
couplings, each a 305 -> 300 -> 610 network, 1.65 M weights) is a dozen matrix-vector products; run
as torch operators most of the time goes to dispatch, and run as NumPy products on float32 matrices
most of it goes to reading the 6.6 MB of weights from memory, which a control that comes after a
pause pays again (docs/results.md, *dexbridge bench*). :class:`PackedFlow` packs every layer once, at
load, transposed with the bias as an extra row, into one flat array: **float16** when every weight
is a float16 value (the shipped checkpoint stores its weights so: 3.3 MB, widened to float32 as they
are read, exactly), float32 otherwise. :func:`_flow` runs every coupling in one Numba-compiled loop
without the GIL: a control message's row is multiplied as the weights are read (each read once, the next
8 KB prefetched meanwhile, so that weights out of the cache stream in at the memory's pace), a batch
(a macro table's) by BLAS, on a float32 copy of the weights kept for it.
It agrees with eager torch to a few 1e-6 on outputs up to ~8 (``tests/engine/test_latent_decoder.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from torch import nn

from models.compiled import compiled
from models.flows import RealNVP
from models.representations import Representation
from models.voice import Voice

__all__ = ["LatentDecoder", "PackedFlow"]

BLAS_ROWS = 8
"""From this many rows on (a macro table's batch) BLAS multiplies them by the float32 copy of the weights; fewer
rows (a control message's one) are multiplied as the stored weights are read, each row summed in the same order."""
PREFETCH_BYTES = 8192
"""How far ahead of the weights being multiplied the loop asks for the next ones (a prefetch per 64-byte cache line).
``dexbridge bench --threads 1``, run back to back with the loop without it: a lone control message's latent -> voice
in 0.35-0.38 ms median instead of 0.44-0.46 ms on a 2-core machine (docs/results.md); 2 KB and 32 KB ahead were
slower than 4-16 KB, timed on the flow alone."""
CACHE_LINE = 64


@intrinsic
def _widen(typingctx: object, value: types.Type) -> tuple[types.Signature, object] | None:
    """A weight as float32: a float16 stored as its 16 bits (uint16) is converted exactly; float32 as is."""
    if value == types.uint16:
        def half(context: object, builder: ir.IRBuilder, signature: object, args: list[ir.Value]) -> ir.Value:
            return builder.fpext(builder.bitcast(args[0], ir.HalfType()), ir.FloatType())

        return types.float32(types.uint16), half
    if value == types.float32:
        def same(context: object, builder: ir.IRBuilder, signature: object, args: list[ir.Value]) -> ir.Value:
            return args[0]

        return types.float32(types.float32), same
    return None


@intrinsic
def _prefetch(typingctx: object, array: types.Array, index: types.Integer) -> tuple[types.Signature, object]:
    """Ask the CPU to bring ``array[index]``'s cache line in for reading (LLVM's prefetch; no effect on results)."""
    def fetch(context: Any, builder: ir.IRBuilder, signature: Any, args: list[ir.Value]) -> ir.Value:
        kind = signature.args[0]
        pointer = cgutils.get_item_pointer(context, builder, kind, context.make_array(kind)(context, builder, args[0]),
                                           [args[1]], wraparound=False, boundscheck=False)
        byte = ir.IntType(8).as_pointer()
        word = ir.IntType(32)
        prefetch = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [byte, word, word, word]),
                                                  "llvm.prefetch.p0i8")
        # read (0), keep in every cache level (3), data (1)
        builder.call(prefetch, [builder.bitcast(pointer, byte), word(0), word(3), word(1)])
        return context.get_dummy_value()

    return types.void(array, index), fetch


@compiled
def _dense(inputs: np.ndarray, weights: np.ndarray, wide: np.ndarray, offset: int, size: int,
           relu: bool) -> np.ndarray:  # pragma: no cover - compiled
    """``inputs`` (rows, n) times a layer's weights (``weights[offset:offset + size]``: (n + 1) * m, the bias last),
    optionally through a ReLU: (rows, m). ``weights`` are read as they are stored, :data:`PREFETCH_BYTES` ahead
    prefetched (across layers), ``wide`` (the same in float32) by BLAS for a batch."""
    rows, n = inputs.shape
    m = size // (n + 1)
    matrix = weights[offset:offset + size].reshape((n + 1, m))
    if rows >= BLAS_ROWS:
        full = wide[offset:offset + size].reshape((n + 1, m))
        out = np.dot(inputs, full[:n]) + full[n]
    else:
        ahead, line, total = PREFETCH_BYTES // weights.itemsize, CACHE_LINE // weights.itemsize, weights.shape[0]
        out = np.empty((rows, m), np.float32)
        for r in range(rows):
            for j in range(m):
                out[r, j] = _widen(matrix[n, j])
            for i in range(n):
                start = offset + i * m + ahead
                for k in range(start, min(start + m, total), line):
                    _prefetch(weights, k)
                value = inputs[r, i]
                for j in range(m):
                    out[r, j] += value * _widen(matrix[i, j])
    if relu:
        for r in range(rows):
            for j in range(m):
                if out[r, j] < 0.0:
                    out[r, j] = 0.0
    return out


@compiled
def _flow(x: np.ndarray, weights: np.ndarray, wide: np.ndarray, layers: np.ndarray, couplings: np.ndarray,
          bounds: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """y = flow(x) for x (rows, dim) float32; ``layers`` rows are (offset, size) into ``weights`` (and ``wide``, the
    same in float32), ``couplings`` rows (parity, first layer, layer count), ``bounds`` each coupling's max log-scale."""
    y = x.copy()
    for c in range(couplings.shape[0]):
        parity, first, count = couplings[c, 0], couplings[c, 1], couplings[c, 2]
        values = np.ascontiguousarray(y[:, parity::2])
        for layer in range(first, first + count):
            offset, size = layers[layer, 0], layers[layer, 1]
            values = _dense(values, weights, wide, offset, size, layer < first + count - 1)
        bound = bounds[c]
        transformed = values.shape[1] // 2
        for r in range(y.shape[0]):
            for k in range(transformed):
                index = 1 - parity + 2 * k
                log_scale = bound * np.tanh(values[r, k] / bound)
                y[r, index] = y[r, index] * np.exp(log_scale) + values[r, transformed + k]
    return y


def _matrix(layer: nn.Linear) -> np.ndarray:
    """``layer``'s weight transposed with its bias appended as a row: (inputs + 1, outputs) float32."""
    return np.concatenate([layer.weight.detach().cpu().float().numpy().T, layer.bias.detach().cpu().float().numpy()[None]])


@dataclass(frozen=True)
class _Packed:
    """Every layer of a flow in one flat array, with the tables :func:`_flow` reads it by."""

    weights: np.ndarray
    wide: np.ndarray
    layers: np.ndarray
    couplings: np.ndarray
    bounds: np.ndarray


def _pack(flow: RealNVP) -> _Packed:
    matrices, couplings, bounds = [], [], []
    for coupling in flow.couplings:
        linears = [module for module in coupling.net if isinstance(module, nn.Linear)]
        couplings.append((int(coupling.conditioner_index[0]), len(matrices), len(linears)))
        matrices += [_matrix(layer).reshape(-1) for layer in linears]
        bounds.append(coupling.max_log_scale)
    flat = np.concatenate(matrices).astype(np.float32)
    half = flat.astype(np.float16)
    weights = half.view(np.uint16) if np.array_equal(half.astype(np.float32), flat) else flat
    sizes = np.array([len(matrix) for matrix in matrices], np.int64)
    layers = np.stack([np.cumsum(sizes) - sizes, sizes], axis=1)
    return _Packed(weights, flat, layers, np.array(couplings, np.int64).reshape(-1, 3), np.array(bounds, np.float32))


class PackedFlow:
    """A :class:`RealNVP`'s forward map (without the log-determinant), compiled; thread-safe, runs without the GIL.

    Args:
        flow: the flow; its weights are copied, later changes to it are not seen. The loop is compiled (or
            read from Numba's cache) at the first call (:class:`LatentDecoder` makes it at construction).
    """

    def __init__(self, flow: RealNVP) -> None:
        self.dim = flow.dim
        self._packed = _pack(flow)

    @property
    def weight_bytes(self) -> int:
        """Bytes of weights one call reads: 2 per weight in float16, 4 in float32."""
        return int(self._packed.weights.nbytes)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """y = flow(x)[0] for x of shape (N, dim): a new float32 array."""
        packed = self._packed
        return _flow(np.ascontiguousarray(x, dtype=np.float32), packed.weights, packed.wide, packed.layers,
                     packed.couplings, packed.bounds)


class LatentDecoder:
    """latent point -> representation vector -> :class:`Voice`, for any backend's engine.

    Args:
        flow: the checkpoint's regression flow (zK -> representation vector).
        representation: decodes the vector.

    Both compiled loops, the flow's and the representation's decode, are compiled (or read from Numba's cache,
    about 0.3 s a process) here, so that no control message waits for them.
    """

    def __init__(self, flow: RealNVP, representation: Representation) -> None:
        self.flow = PackedFlow(flow)
        self.representation = representation
        self.voice(np.zeros(flow.dim, np.float32))

    def voice(self, latent: np.ndarray, template: Voice | None = None) -> Voice:
        """The voice at one latent point (dim,), the parameters not learned taken from ``template``."""
        return self.representation.decode(self.flow.forward(latent[None])[0], template)
