"""Inference runtime: the Engine (sound -> voice, voice <-> latent, macros), latent-space
operations and the asyncio worker. Imports :mod:`models` only.

The names below load on first use (PEP 562), so importing a light part of the package (the backend
names, the morph methods) does not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Diagnostics", "Engine", "Inference", "InferenceWorker", "interpolate", "macros_to_latent", "morph_2d"]

_HOMES = {"interpolate": "engine.latent", "macros_to_latent": "engine.latent", "morph_2d": "engine.latent",
          "Diagnostics": "engine.inference", "Engine": "engine.runtime", "Inference": "engine.inference",
          "InferenceWorker": "engine.worker"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
