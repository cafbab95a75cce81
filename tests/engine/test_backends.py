"""Every backend that runs here agrees with eager torch; the registry, auto choice, caches and
errors behave as documented."""

from __future__ import annotations

import logging
import shutil
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from engine.backends import AUTO_ORDER, BACKENDS, STAGES, Backend, select_backend, unavailable_reason
from engine.backends.onnx_impl import ONNX_STAGES, OnnxBackend
from engine.backends.staged import FlowForward, example_inputs
from engine.backends.torch_impl import TorchBackend
from models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from models.errors import BackendError, ModelInputError
from models.flows import RealNVP

MUST_RUN_HERE = ("torch", "torchscript", "onnx")
"""Backends that run on any CPU: in CI a failure to build them fails, never skips."""

TOLERANCE = {"torch": 1e-5, "torchscript": 1e-4, "onnx": 1e-4, "cuda": 1e-3, "tensorrt": 5e-2}
"""Largest |difference| to eager torch (batch of 2) of an output element of magnitude <= 1:
float32 reordering on CPU (eager itself moves ~1e-7 between batch sizes), TF32 on CUDA, float16
in the TensorRT encoder and flows."""


def _audio(batch: int, notes: int, samples: int) -> np.ndarray:
    """Harmonic tones with a decay and a little noise, one pitch per example."""
    t = np.arange(samples) / 22050.0
    rng = np.random.default_rng(1)
    rows = []
    for example in range(batch):
        f0 = 110.0 * 2 ** (example / 3)
        tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) * np.exp(-t)
        rows.append([0.3 * tone + 0.01 * rng.standard_normal(samples) for _ in range(notes)])
    return np.asarray(rows, dtype=np.float32)


@pytest.fixture(scope="module")
def checkpoint(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Checkpoint:
    """The tiny checkpoint with variance-preserving (He) encoder weights, so that different
    audio gives clearly different outputs, saved in a folder of this module (its caches land there)."""
    tiny = load_checkpoint(tiny_checkpoint)
    generator = torch.Generator().manual_seed(3)
    for name, tensor in tiny.serving_state.items():
        if name.startswith("encoder.") and name.endswith(".weight") and tensor.dim() in (2, 4):
            fan_in = tensor[0].numel()
            tensor.copy_(torch.randn(tensor.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
    path = save_checkpoint(tmp_path_factory.mktemp("backends") / "tiny.pt", tiny)
    return load_checkpoint(path)


@pytest.fixture(scope="module")
def audio(checkpoint: Checkpoint) -> np.ndarray:
    notes, samples = checkpoint.config.model.n_notes, checkpoint.config.frontend.num_samples
    return _audio(2, notes, samples)


@pytest.fixture(scope="module")
def eager(checkpoint: Checkpoint) -> TorchBackend:
    return TorchBackend(checkpoint)


RUNNABLE = [name for name in BACKENDS if name in MUST_RUN_HERE or unavailable_reason(name) is None]
"""The backends the agreement tests run on: every one that runs on this machine (CUDA and TensorRT
on a GPU machine), never a skipped placeholder; ``test_*_unavailable_says_*`` cover the others."""


@pytest.fixture(scope="module", params=RUNNABLE)
def backend(request: pytest.FixtureRequest, checkpoint: Checkpoint) -> Backend:
    """Each backend that runs here, built for the tiny checkpoint; a CPU backend that cannot be
    built fails (in CI too), it is never skipped."""
    name = request.param
    reason = unavailable_reason(name)
    if reason is not None:
        pytest.fail(f"backend {name} must run on any CPU: {reason}")
    return select_backend(name, checkpoint)


def test_audio_to_params_agrees_with_eager(
    backend: Backend, eager: TorchBackend, audio: np.ndarray, checkpoint: Checkpoint
) -> None:
    expected = eager.audio_to_params(audio)
    got = backend.audio_to_params(audio)
    assert got.shape == expected.shape == (2, checkpoint.latent_dim) and got.dtype == np.float32
    assert np.abs(got - expected).max() <= TOLERANCE[backend.name]
    assert np.abs(expected[0] - expected[1]).max() > 0.1  # different audio, clearly different answers
    np.testing.assert_allclose(backend.audio_to_params(audio[1:]), got[1:], atol=TOLERANCE[backend.name], rtol=0)


def test_latent_to_params_agrees_with_eager(backend: Backend, eager: TorchBackend, checkpoint: Checkpoint) -> None:
    latent = np.random.default_rng(2).standard_normal((3, checkpoint.latent_dim)).astype(np.float32)
    expected = eager.latent_to_params(latent)
    assert np.abs(expected - latent).max() > 0.1  # the tiny checkpoint's flow is not the identity
    assert np.abs(backend.latent_to_params(latent) - expected).max() <= TOLERANCE[backend.name]


def test_each_stage_agrees_with_eager(backend: Backend, eager: TorchBackend, audio: np.ndarray) -> None:
    values = audio
    for stage in STAGES:
        expected = eager.run_stage(stage, values)
        got = backend.run_stage(stage, values)
        scale = max(1.0, float(np.abs(expected).max()))
        assert np.abs(got - expected).max() <= TOLERANCE[backend.name] * scale, stage
        values = expected


def test_cpu_backends_really_ran(checkpoint: Checkpoint, audio: np.ndarray) -> None:
    """Guard: the agreement tests above were not an all-skipped parametrization, and the ONNX
    backend answers from onnxruntime sessions of real ONNX graphs."""
    runnable = [name for name in BACKENDS if unavailable_reason(name) is None]
    assert set(MUST_RUN_HERE) <= set(runnable), runnable
    onnx_backend = select_backend("onnx", checkpoint)
    assert isinstance(onnx_backend, OnnxBackend) and set(onnx_backend.paths) == set(ONNX_STAGES)
    for stage, path in onnx_backend.paths.items():
        onnx.checker.check_model(onnx.load(str(path)))
        assert path.parent == checkpoint.path.parent and stage in path.name
    torch_params = select_backend("torch", checkpoint).audio_to_params(audio)
    assert np.isfinite(torch_params).all() and np.abs(onnx_backend.audio_to_params(audio) - torch_params).max() <= 1e-4


def test_onnx_cache_is_reused_and_keyed_by_content(tiny_checkpoint: Path, tmp_path: Path) -> None:
    path = Path(shutil.copy(tiny_checkpoint, tmp_path / "model.pt"))
    first = OnnxBackend(load_checkpoint(path))
    assert first.exported == list(ONNX_STAGES) and all(p.is_file() and p.parent == tmp_path for p in first.paths.values())
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in first.paths.values())
    stamps = {stage: p.stat().st_mtime_ns for stage, p in first.paths.items()}
    second = OnnxBackend(load_checkpoint(path))
    assert second.exported == [] and second.paths == first.paths
    assert {stage: p.stat().st_mtime_ns for stage, p in second.paths.items()} == stamps
    changed = load_checkpoint(path)
    changed.serving_state = {k: v + 0.01 if v.is_floating_point() else v for k, v in changed.serving_state.items()}
    third = OnnxBackend(changed)
    assert third.exported == list(ONNX_STAGES) and set(third.paths.values()).isdisjoint(first.paths.values())
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary file


def test_onnx_cache_without_a_checkpoint_folder_goes_to_the_user_cache(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    in_memory = load_checkpoint(tiny_checkpoint)
    in_memory.path = None
    backend = OnnxBackend(in_memory)
    assert all(p.parent == tmp_path / "cache" / "dexbridge" / "onnx" and p.is_file() for p in backend.paths.values())


def test_auto_picks_the_first_runnable_and_logs_one_line(checkpoint: Checkpoint, caplog: pytest.LogCaptureFixture) -> None:
    expected = next(name for name in AUTO_ORDER if unavailable_reason(name) is None)
    with caplog.at_level(logging.INFO, logger="engine.backends"):
        chosen = select_backend("auto", checkpoint)
    assert chosen.name == expected
    assert not [r for r in caplog.records if r.name == "engine.backends"]  # not among a command's results: -v shows it
    with caplog.at_level(logging.DEBUG, logger="engine.backends"):
        select_backend("auto", checkpoint)
    lines = [r.getMessage() for r in caplog.records if r.name == "engine.backends"]
    assert len(lines) == 1 and f"auto -> {expected}" in lines[0] and caplog.records[-1].levelno == logging.DEBUG
    for skipped in AUTO_ORDER[: AUTO_ORDER.index(expected)]:
        assert f"{skipped} ({unavailable_reason(skipped)})" in lines[0]


@pytest.mark.skipif(find_spec("torch_tensorrt") is not None and torch.cuda.is_available(), reason="TensorRT runs here")
def test_tensorrt_unavailable_says_how_to_fix(checkpoint: Checkpoint) -> None:
    fix = "pip install dexbridge[tensorrt]" if find_spec("torch_tensorrt") is None else "needs a CUDA GPU"
    with pytest.raises(BackendError, match=r"backend 'tensorrt' cannot run here: .*" + fix.replace("[", r"\[").replace("]", r"\]")):
        select_backend("tensorrt", checkpoint)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA runs here (the backend fixture covers it)")
def test_cuda_unavailable_says_why(checkpoint: Checkpoint) -> None:
    with pytest.raises(BackendError, match=r"backend 'cuda' cannot run here: no CUDA device"):
        select_backend("cuda", checkpoint)


def test_unknown_backend_lists_the_valid_names(checkpoint: Checkpoint) -> None:
    names = "torch, torchscript, onnx, cuda, tensorrt"
    with pytest.raises(BackendError, match=rf"unknown backend 'tpu'; choose auto or one of {names}"):
        select_backend("tpu", checkpoint)


def test_bad_input_names_the_expected_shape(eager: TorchBackend, checkpoint: Checkpoint) -> None:
    samples = checkpoint.config.frontend.num_samples
    with pytest.raises(ModelInputError, match=rf"audio shape \(1, 1, 1000\): expected \(batch >= 1, 1, {samples}\)"):
        eager.audio_to_params(np.zeros((1, 1, 1000), np.float32))
    with pytest.raises(ModelInputError, match=r"latent of type float64: backends take float32"):
        eager.latent_to_params(np.zeros((1, checkpoint.latent_dim)))
    with pytest.raises(ModelInputError, match=rf"latent shape \(0, {checkpoint.latent_dim}\)"):
        eager.latent_to_params(np.zeros((0, checkpoint.latent_dim), np.float32))


@pytest.mark.parametrize("dim", [7, 610])
def test_split_flow_forward_equals_the_flow(dim: int) -> None:
    torch.manual_seed(dim)
    flow = RealNVP(dim, layers=5, hidden=16)
    with torch.no_grad():
        for parameter in flow.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.3)  # fresh couplings are the identity
        x = torch.randn(4, dim)
        expected = flow(x)[0]
        assert (expected - x).abs().max() > 0.1
        torch.testing.assert_close(FlowForward(flow)(x), expected, atol=1e-6, rtol=1e-6)


def test_example_inputs_cover_every_stage(checkpoint: Checkpoint) -> None:
    examples = example_inputs(checkpoint, batch=3)
    assert list(examples) == list(STAGES)
    assert examples["frontend"].shape == (3, 1, checkpoint.config.frontend.num_samples)
    assert examples["encoder"].shape == (3, *checkpoint.spectrogram_shape)
