"""torch backends: eager CPU, TorchScript CPU (traced, frozen, optimised for inference) and
CUDA with CUDA graphs.

No process-wide knob is touched here (threads are the caller's choice, see ``dexbridge bench``).
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
import torch
from torch import nn

from engine.backends.staged import STAGES, StagedBackend, StageFn, example_inputs, serving_parts
from models.checkpoint import Checkpoint

PROFILING_RUNS = 3
"""Calls after which TorchScript's profiling executor has settled on its optimised graph."""


def eager_stage(module: nn.Module) -> StageFn:
    """``module`` on CPU as a numpy -> numpy callable (inference mode, no autograd record)."""

    def run(values: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(values)).numpy()

    return run


class TorchBackend(StagedBackend):
    """Eager torch on the CPU: the reference every other backend is compared with."""

    name = "torch"

    def __init__(self, checkpoint: Checkpoint) -> None:
        parts = serving_parts(checkpoint)
        super().__init__(checkpoint, {stage: eager_stage(module) for stage, module in parts.items()})


def trace_frozen(module: nn.Module, example: torch.Tensor) -> torch.jit.ScriptModule:
    """``module`` traced on ``example``, frozen (weights inlined, BatchNorm folded into convs)
    and optimised for inference; the batch axis stays free."""
    with torch.no_grad(), warnings.catch_warnings():
        # torch 2.13 deprecates TorchScript in favour of torch.compile, whose inductor build takes
        # tens of seconds per stage on 2 cores (docs/results.md, dexbridge bench): tracing stays, knowingly.
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=DeprecationWarning)
        traced = torch.jit.trace(module, example, check_trace=False)
        return torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))


def traced_stage(module: nn.Module, example: torch.Tensor) -> StageFn:
    """``module`` traced and frozen (:func:`trace_frozen`) as a numpy -> numpy callable, run
    :data:`PROFILING_RUNS` times so that the first real call already gets the optimised graph."""
    run = eager_stage(trace_frozen(module, example))
    for _ in range(PROFILING_RUNS):
        run(example.numpy())
    return run


class TorchScriptBackend(StagedBackend):
    """TorchScript on the CPU: each stage traced, frozen and optimised (oneDNN conv fusion)."""

    name = "torchscript"

    def __init__(self, checkpoint: Checkpoint) -> None:
        parts = serving_parts(checkpoint)
        examples = example_inputs(checkpoint)
        super().__init__(checkpoint, {stage: traced_stage(module, examples[stage]) for stage, module in parts.items()})


class CudaGraphRunner:
    """A module on a CUDA device replayed as one CUDA graph per batch size (captured on first use).

    Replays share static input/output buffers, so calls are serialised by a lock.
    """

    def __init__(self, module: nn.Module, device: torch.device, warmup: int = 3) -> None:
        """
        Args:
            module: an eval-mode module already on ``device``.
            device: the CUDA device.
            warmup: eager runs on a side stream before capture (cuDNN/cuFFT plan selection).
        """
        self.module = module
        self.device = device
        self.warmup = warmup
        self._graphs: dict[tuple[int, ...], tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = {}
        self._lock = threading.Lock()

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """The module's output for ``values`` (copied in, graph replayed, copied out)."""
        with self._lock:
            entry = self._graphs.get(values.shape) or self._capture(values.shape)
            graph, static_input, static_output = entry
            static_input.copy_(torch.from_numpy(values))
            graph.replay()
            return static_output.cpu().numpy()

    def _capture(self, shape: tuple[int, ...]) -> tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]:
        static_input = torch.zeros(shape, device=self.device)
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side), torch.inference_mode():
            for _ in range(self.warmup):
                self.module(static_input)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph), torch.inference_mode():
            static_output = self.module(static_input)
        self._graphs[shape] = (graph, static_input, static_output)
        return self._graphs[shape]


class CudaBackend(StagedBackend):
    """torch on the first CUDA device; each stage and the whole audio path replayed as CUDA graphs."""

    name = "cuda"

    def __init__(self, checkpoint: Checkpoint) -> None:
        device = torch.device("cuda", 0)
        parts = {stage: module.to(device) for stage, module in serving_parts(checkpoint).items()}
        stages = {stage: CudaGraphRunner(module, device) for stage, module in parts.items()}
        whole = CudaGraphRunner(nn.Sequential(*(parts[stage] for stage in STAGES)), device)
        super().__init__(checkpoint, stages, fused=whole)

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why CUDA cannot run here (``None`` when a device is visible)."""
        if not torch.cuda.is_available():
            return "no CUDA device (torch.cuda.is_available() is False; this torch build is " + (
                f"CUDA {torch.version.cuda})" if torch.version.cuda else "CPU-only)")
        return None
