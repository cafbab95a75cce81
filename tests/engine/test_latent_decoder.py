"""The NumPy latent path agrees with eager torch: the same numbers within TOLERANCE over many latents,
identical voices on a real bank, for the tiny checkpoint and the shipped one; Engine.decode runs it."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.backends.torch_impl import TorchBackend
from engine.latent_decoder import LatentDecoder, PackedFlow
from engine.runtime import Engine
from models.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from models.flows import RealNVP
from models.latent_axes import encode_voices, regression_flow
from models.representations import DEFAULT_TEMPLATE, get_representation
from models.voice import Voice

TOLERANCE = 1e-5
"""Largest |difference| to eager torch per unit of output magnitude (outputs reach ~8 on the shipped
model): float32 products summed in another order; observed ~2e-6 on the shipped model."""
LATENTS = 2000


def _eager(flow: RealNVP, latents: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return flow(torch.from_numpy(latents))[0].numpy()


def _assert_close(got: np.ndarray, expected: np.ndarray) -> None:
    error = np.abs(got - expected) / np.maximum(1.0, np.abs(expected))
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert error.max() <= TOLERANCE, f"largest relative difference {error.max():.2e}"


@pytest.fixture(scope="module", params=["tiny", "shipped"])
def model(request: pytest.FixtureRequest, tiny_checkpoint: Path) -> tuple[RealNVP, str]:
    """(regression flow, representation) of the tiny checkpoint fixture and of the shipped checkpoint."""
    checkpoint = load_checkpoint(tiny_checkpoint if request.param == "tiny" else DEFAULT_CHECKPOINT)
    return regression_flow(checkpoint.config.model, checkpoint.serving_state), checkpoint.representation


def test_the_packed_flow_agrees_with_eager_torch_over_many_latents(model: tuple[RealNVP, str]) -> None:
    flow, _ = model
    latents = np.random.default_rng(0).standard_normal((LATENTS, flow.dim)).astype(np.float32)
    expected = _eager(flow, latents)
    assert np.abs(expected - latents).max() > 0.1  # the flow is not the identity
    packed = PackedFlow(flow)
    _assert_close(np.concatenate([packed.forward(row[None]) for row in latents]), expected)  # batch 1, as served
    _assert_close(packed.forward(latents), expected)


def test_the_bank_decodes_to_identical_voices(model: tuple[RealNVP, str], brass_voices: list[Voice]) -> None:
    flow, representation = model
    codec = get_representation(representation)
    decoder = LatentDecoder(flow, codec)
    latents = encode_voices(flow, representation, brass_voices)
    extra = np.random.default_rng(1).standard_normal((200, flow.dim)).astype(np.float32)
    for latent, expected in zip(np.concatenate([latents, extra]), _eager(flow, np.concatenate([latents, extra])), strict=True):
        for template in (DEFAULT_TEMPLATE, brass_voices[3]):
            assert decoder.voice(latent, template) == codec.decode(expected, template)


def test_a_flow_of_float16_values_is_read_as_float16_and_others_as_float32() -> None:
    torch.manual_seed(8)
    flow = RealNVP(6, layers=2, hidden=4, hidden_layers=1, max_log_scale=2.0)
    weights = sum(parameter.numel() for parameter in flow.parameters())
    with torch.no_grad():
        for parameter in flow.parameters():
            parameter.copy_(torch.randn_like(parameter).half().float())
    latents = np.random.default_rng(5).standard_normal((9, 6)).astype(np.float32)
    packed = PackedFlow(flow)
    assert packed.weight_bytes == 2 * weights
    _assert_close(packed.forward(latents[:1]), _eager(flow, latents[:1]))
    _assert_close(packed.forward(latents), _eager(flow, latents))  # a batch: BLAS on the float32 copy
    with torch.no_grad():
        next(flow.parameters())[0, 0] += 1e-4  # no longer a float16 value
    packed = PackedFlow(flow)
    assert packed.weight_bytes == 4 * weights
    _assert_close(packed.forward(latents[:1]), _eager(flow, latents[:1]))


def test_the_shipped_flow_is_read_as_float16() -> None:
    checkpoint = load_checkpoint(DEFAULT_CHECKPOINT)
    flow = regression_flow(checkpoint.config.model, checkpoint.serving_state)
    assert PackedFlow(flow).weight_bytes == 2 * sum(parameter.numel() for parameter in flow.parameters())


def test_odd_sizes_and_deeper_coupling_networks_agree() -> None:
    torch.manual_seed(7)
    flow = RealNVP(7, layers=5, hidden=16, hidden_layers=2, max_log_scale=1.5)
    with torch.no_grad():
        for parameter in flow.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.3)  # fresh couplings are the identity
    latents = np.random.default_rng(2).standard_normal((50, 7)).astype(np.float32)
    packed = PackedFlow(flow)
    _assert_close(packed.forward(latents), _eager(flow, latents))
    _assert_close(packed.forward(latents[:1]), _eager(flow, latents[:1]))


def test_threads_keep_their_own_buffers(model: tuple[RealNVP, str]) -> None:
    flow, _ = model
    packed = PackedFlow(flow)
    latents = np.random.default_rng(3).standard_normal((4, flow.dim)).astype(np.float32)
    expected = [packed.forward(latents[row : row + 1])[0] for row in range(4)]  # bitwise: batch 1 alike
    np.testing.assert_array_equal(packed.forward(latents), np.stack(expected))  # and a batch under BLAS_ROWS
    wrong: list[int] = []

    def run(row: int) -> None:
        for _ in range(200):
            if not np.array_equal(packed.forward(latents[row : row + 1])[0], expected[row]):
                wrong.append(row)

    threads = [threading.Thread(target=run, args=(row,)) for row in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_engine_decode_runs_the_numpy_path_and_agrees_with_its_backend(tiny_checkpoint: Path) -> None:
    engine = Engine.load(tiny_checkpoint, backend="torch", search=False)
    assert isinstance(engine.backend, TorchBackend)
    latents = np.random.default_rng(4).standard_normal((20, engine.latent_dim)).astype(np.float32)
    for latent, params in zip(latents, engine.backend.latent_to_params(latents), strict=True):
        assert engine.decode(latent) == engine.representation.decode(params)
    engine.backend.latent_to_params = None  # type: ignore[method-assign]  # decode must not need the backend
    assert isinstance(engine.decode(latents[0]), Voice)
