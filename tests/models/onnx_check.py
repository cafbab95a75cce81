"""Export a module with the ONNX exporter the serving backends use and run it in onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
import torch

# torch 2.9+ warns that the TorchScript-based exporter is legacy; the torch.export-based one
# needs onnxscript, which is not a dependency. Tests exporting ONNX carry this mark.
LEGACY_EXPORTER_WARNINGS = (
    "ignore:You are using the legacy TorchScript-based ONNX export:DeprecationWarning",
    "ignore:The feature will be removed:DeprecationWarning",
)


def run_exported(module: torch.nn.Module, example: torch.Tensor, inputs: torch.Tensor, path: Path) -> np.ndarray:
    """Export ``module`` traced on ``example`` (batch axis dynamic) and run it on ``inputs``."""
    torch.onnx.export(
        module.eval(), (example,), str(path), dynamo=False,
        input_names=["input"], output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
    )
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": inputs.numpy()})[0]
