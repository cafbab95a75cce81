"""Inference runtime: the Engine (sound -> voice, voice <-> latent, macros), latent-space
operations and the asyncio worker. Imports :mod:`models` only."""

from engine.latent import interpolate, macros_to_latent, morph_2d
from engine.runtime import Diagnostics, Engine, Inference
from engine.worker import InferenceWorker

__all__ = ["Diagnostics", "Engine", "Inference", "InferenceWorker", "interpolate", "macros_to_latent", "morph_2d"]
