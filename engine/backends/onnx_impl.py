"""ONNX Runtime on the CPU: the network (encoder, latent flow, regression flow) exported once and
cached beside the checkpoint (:mod:`engine.backends.cache`); the front end's FFT runs in TorchScript.

Why the front end stays in torch: the exportable front end computes its DFT as a conv1d (about
360 M multiply-adds per note) and onnxruntime's STFT operator is a plain DFT too; both took
12-40 ms per 4 s note on the 2-core machine, against about 1 ms for ``torch.stft`` (pocketfft),
measured with ``dexbridge bench``. ONNX Runtime wins on the encoder instead (about 10x over eager).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from engine.backends.cache import build_missing, stage_paths
from engine.backends.staged import StagedBackend, StageFn, example_inputs
from engine.backends.torch_impl import traced_stage
from models.checkpoint import Checkpoint
from models.errors import BackendError
from models.frontend import Frontend

OPSET = 17
FORMAT_TAG = f"onnx-v2-opset{OPSET}"
ONNX_STAGES = ("encoder", "latent_flow", "regression_flow")
"""Changes when the export changes, so caches written by an older dexbridge are not reused."""


# The TorchScript-based exporter is the one that exports the conv1d front end without onnxscript;
# torch >= 2.9 warns that it is legacy. Its messages (not the whole category) are silenced here.
_LEGACY_EXPORTER_MESSAGES = ("You are using the legacy TorchScript-based ONNX export", "The feature will be removed")


def export_stage(stage: str, module: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    """Export ``module`` traced on ``example`` to ``path``, batch axis dynamic.

    Raises:
        BackendError: the exporter fails (the message names the stage).
    """
    try:
        with warnings.catch_warnings():
            for message in _LEGACY_EXPORTER_MESSAGES:
                warnings.filterwarnings("ignore", message=message, category=DeprecationWarning)
            torch.onnx.export(
                module, (example,), str(path), dynamo=False, opset_version=OPSET,
                input_names=["input"], output_names=["output"],
                dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            )
    except Exception as error:
        raise BackendError(f"ONNX export of stage {stage!r} failed: {type(error).__name__}: {error}") from error


def session_stage(path: Path, threads: int | None = None) -> StageFn:
    """An onnxruntime CPU session of ``path`` (all graph optimisations) as a numpy -> numpy callable;
    it uses ``threads`` threads, by default as many as torch does (``torch.set_num_threads``), so one setting
    governs both. With one thread it runs on the caller's thread alone: no pool thread spins beside it."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or min(torch.get_num_threads(), os.cpu_count() or 1)  # as torch: one budget
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(values: np.ndarray) -> np.ndarray:
        return session.run(None, {"input": values})[0]

    return run


class OnnxBackend(StagedBackend):
    """ONNX Runtime CPU sessions of the network's exported stages after a TorchScript front end (thread-safe).

    Attributes:
        exported: the stages exported by this load (empty when every graph came from the cache).
        paths: the ONNX file of each of :data:`ONNX_STAGES`.
    """

    name = "onnx"

    def __init__(self, checkpoint: Checkpoint) -> None:
        self.paths = stage_paths(checkpoint, "onnx", FORMAT_TAG, "onnx", ONNX_STAGES)
        self.exported = build_missing(checkpoint, self.paths, export_stage)
        frontend = Frontend(checkpoint.config.frontend, checkpoint.frontend_stats).eval()
        stages = {"frontend": traced_stage(frontend, example_inputs(checkpoint)["frontend"])}
        stages.update((stage, session_stage(path)) for stage, path in self.paths.items())
        super().__init__(checkpoint, stages)
