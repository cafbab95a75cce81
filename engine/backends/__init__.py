"""Inference backends: one contract, a registry of implementations, and the ``auto`` choice.

Every backend runs the same serving path of a checkpoint (front end -> encoder -> latent flow
-> regression flow) on numpy arrays. Implementations live in ``*_impl`` modules (so
``onnx_impl`` never shadows the ``onnx`` package) and import their optional dependencies
themselves: the registry maps a name to ``"module:Class"`` and imports only what is asked for,
as uvicorn's ``HTTP_PROTOCOLS`` and ``loops/auto.py`` do.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from models.errors import BackendError

if TYPE_CHECKING:  # the registry's names load without torch: the command line lists them in --help
    import numpy as np

    from engine.backends.staged import StagedBackend
    from models.checkpoint import Checkpoint

__all__ = ["AUTO_ORDER", "BACKENDS", "STAGES", "Backend", "StagedBackend", "backend_class", "select_backend", "unavailable_reason"]

logger = logging.getLogger(__name__)


def __getattr__(name: str) -> Any:
    if name in ("STAGES", "StagedBackend"):  # torch: loaded on first use
        return getattr(importlib.import_module("engine.backends.staged"), name)
    raise AttributeError(f"module 'engine.backends' has no attribute {name!r}")

BACKENDS: dict[str, str] = {
    "torch": "engine.backends.torch_impl:TorchBackend",
    "torchscript": "engine.backends.torch_impl:TorchScriptBackend",
    "onnx": "engine.backends.onnx_impl:OnnxBackend",
    "cuda": "engine.backends.torch_impl:CudaBackend",
    "tensorrt": "engine.backends.tensorrt_impl:TensorRTBackend",
}
"""Backend name -> ``"module:Class"``."""

AUTO_ORDER: tuple[str, ...] = ("tensorrt", "cuda", "onnx", "torchscript", "torch")
"""What ``auto`` tries, first to last: GPU before CPU, then the fastest CPU backend measured
by ``dexbridge bench`` (docs/results.md), eager torch last as it always runs."""

INSTALL_HINTS: dict[str, str] = {
    "onnx": "pip install dexbridge[onnx]",
    "tensorrt": "pip install dexbridge[tensorrt] (it needs NVIDIA's TensorRT libraries and a CUDA GPU)",
}


@runtime_checkable
class Backend(Protocol):
    """The serving path of one checkpoint on one runtime; numpy float32 in and out, thread-safe."""

    name: str

    def audio_to_params(self, audio: np.ndarray) -> np.ndarray:
        """Representation vectors (batch, latent_dim) of (batch, notes, samples) audio at the model rate.

        Raises:
            ModelInputError: audio not float32 of shape (batch, notes, samples) for this checkpoint.
        """
        ...

    def latent_to_params(self, latent: np.ndarray) -> np.ndarray:
        """Representation vectors (batch, latent_dim) of latent points zK (forward regression flow).

        Raises:
            ModelInputError: latent not float32 of shape (batch, latent_dim).
        """
        ...

    def run_stage(self, stage: str, inputs: np.ndarray) -> np.ndarray:
        """One part of the serving path (a name of :data:`STAGES`) on its input: for per-stage timing."""
        ...


def backend_class(name: str) -> type[StagedBackend]:
    """The implementation class registered as ``name``.

    Raises:
        BackendError: unknown name, or its module needs a package that is not installed.
    """
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}; choose auto or one of {', '.join(BACKENDS)}")
    module_name, class_name = BACKENDS[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and module_name.startswith(error.name):
            raise  # the implementation module itself is missing: a packaging bug, not a missing extra
        hint = INSTALL_HINTS.get(name, "reinstall dexbridge")
        raise BackendError(f"backend {name!r} needs the package {error.name!r}, which is not installed: {hint}") from None
    return getattr(module, class_name)


def unavailable_reason(name: str) -> str | None:
    """Why backend ``name`` cannot run here, or ``None`` when it can (without building it)."""
    try:
        return backend_class(name).unavailable_reason()
    except BackendError as error:
        return str(error)


def select_backend(name: str, checkpoint: Checkpoint) -> Backend:
    """Build the backend called ``name`` for ``checkpoint``; ``"auto"`` takes the first of
    :data:`AUTO_ORDER` that runs here and logs one line naming the choice and why the ones
    before it were skipped.

    Args:
        name: ``"auto"`` or a key of :data:`BACKENDS`.
        checkpoint: the loaded checkpoint whose serving path the backend runs.

    Returns:
        The ready backend (exported, compiled and warmed up as it needs).

    Raises:
        BackendError: unknown name, or the named backend cannot run here (the message says why
            and how to fix it); with ``"auto"``, only when no backend runs at all.
    """
    if name != "auto":
        reason = unavailable_reason(name)
        if reason is not None:
            raise BackendError(f"backend {name!r} cannot run here: {reason}")
        return backend_class(name)(checkpoint)
    skipped: list[str] = []
    for candidate in AUTO_ORDER:
        reason = unavailable_reason(candidate)
        if reason is None:
            try:
                backend = backend_class(candidate)(checkpoint)
            except BackendError as error:
                reason = str(error)
            else:
                logger.debug("backend auto -> %s; skipped: %s", candidate, "; ".join(skipped) or "none")
                return backend
        skipped.append(f"{candidate} ({reason})")
    raise BackendError(f"no inference backend runs here: {'; '.join(skipped)}")
