"""TensorRT through torch-tensorrt (extra ``tensorrt``): fp16 engines, cached on disk.

Each stage is compiled ahead of time (``ir="dynamo"``) for batches 1..:data:`MAX_BATCH` and saved
as an ExportedProgram beside the checkpoint (:mod:`engine.backends.cache`); later loads read
the engines back instead of rebuilding them. The front end stays in float32 (its dB floor,
1e-6, is below float16's normal range); the encoder and flows run in float16.

TensorRT's libraries are not installable from the package registries this project builds
with (the PyPI packages download from NVIDIA); without them, importing this module fails and
the registry answers with the install line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch_tensorrt
from torch import nn

from engine.backends.cache import build_missing, stage_paths
from engine.backends.staged import STAGES, StagedBackend, StageFn
from models.checkpoint import Checkpoint
from models.errors import BackendError

MAX_BATCH = 8
FORMAT_TAG = f"tensorrt-v1-fp16-max{MAX_BATCH}-{torch_tensorrt.__version__}"
FLOAT32_STAGES = frozenset({"frontend"})


def compile_stage(stage: str, module: nn.Module, example: torch.Tensor, path: Path) -> None:
    """Compile ``module`` to a TensorRT engine for batches 1..MAX_BATCH and save it to ``path``.

    Raises:
        BackendError: torch-tensorrt cannot compile or save it.
    """
    device = torch.device("cuda", 0)
    example = example.to(device)
    tail = tuple(example.shape[1:])
    spec = torch_tensorrt.Input(min_shape=(1, *tail), opt_shape=(1, *tail), max_shape=(MAX_BATCH, *tail), dtype=torch.float32)
    precisions = {torch.float32} if stage in FLOAT32_STAGES else {torch.float32, torch.half}
    try:
        compiled = torch_tensorrt.compile(module.to(device), ir="dynamo", inputs=[spec], enabled_precisions=precisions)
        torch_tensorrt.save(compiled, str(path), output_format="exported_program", inputs=[example])
    except Exception as error:
        raise BackendError(f"TensorRT compilation of stage {stage!r} failed: {type(error).__name__}: {error}") from error


def engine_stage(module: nn.Module) -> StageFn:
    """A CUDA module as a numpy -> numpy callable (host to device, run, device to host)."""
    device = torch.device("cuda", 0)

    def run(values: np.ndarray) -> np.ndarray:
        if values.shape[0] > MAX_BATCH:
            raise BackendError(f"batch of {values.shape[0]}: the TensorRT engines take 1..{MAX_BATCH}; split the batch")
        with torch.inference_mode():
            return module(torch.from_numpy(values).to(device)).float().cpu().numpy()

    return run


class TensorRTBackend(StagedBackend):
    """TensorRT engines of the stages on the first CUDA device.

    Attributes:
        compiled: the stages compiled by this load (empty when every engine came from the cache).
        paths: the engine file of each stage.
    """

    name = "tensorrt"

    def __init__(self, checkpoint: Checkpoint) -> None:
        self.paths = stage_paths(checkpoint, "tensorrt", FORMAT_TAG, "ep")
        self.compiled = build_missing(checkpoint, self.paths, compile_stage)
        modules = {stage: torch.export.load(str(self.paths[stage])).module() for stage in STAGES}
        super().__init__(checkpoint, {stage: engine_stage(module) for stage, module in modules.items()},
                         fused=engine_stage(nn.Sequential(*modules.values())))

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why TensorRT cannot run here (``None`` when a CUDA device is visible)."""
        if not torch.cuda.is_available():
            return "TensorRT needs a CUDA GPU and none is visible (torch.cuda.is_available() is False)"
        return None
