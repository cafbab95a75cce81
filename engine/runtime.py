"""The inference engine: a checkpoint loaded once, then sound -> voice, voice <-> latent, macros.

:class:`Engine` is synchronous and thread-safe (the backend is, refinement renders with one
dexed-py synth per thread); :class:`engine.worker.InferenceWorker` is its asyncio face. The
serving path is the backend's (``engine.backends.select_backend``); the inverse regression flow
(``encode``) runs in torch. Conditioning (resampling, level, pitch) is :mod:`engine.conditioning`,
refinement :mod:`engine.refine`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from engine.backends import Backend, select_backend
from engine.conditioning import REFERENCE_NOTE, Conditioned, Conditioner
from engine.latent import macros_to_latent
from engine.refine import DEFAULT_BUDGET_MS, REFINE_BY_DEFAULT, Refiner
from models.checkpoint import DEFAULT_CHECKPOINT, Checkpoint, load_checkpoint
from models.errors import ModelInputError
from models.latent_axes import regression_flow
from models.params import TRANSPOSE_CENTRE, TRANSPOSE_INDEX
from models.representations import DEFAULT_TEMPLATE, get_representation
from models.voice import Voice

__all__ = ["Diagnostics", "Engine", "Inference"]

WARMUP_SECONDS = 1.0


@dataclass(frozen=True)
class Diagnostics:
    """How an inference went.

    Attributes:
        f0_hz: the input's f0, ``None`` when it has no stable pitch.
        transpose: semitones the voice is transposed by (VCED transpose = 24 + this).
        residual_cents: input pitch minus the voice's pitch at the reference note (MIDI 60), in cents.
        level_db: input sample peak, dB re full scale.
        gain_db: gain applied to bring the input into the training level range.
        backend: the backend that ran the network.
        refined: whether render-and-compare refinement ran.
        timings_ms: milliseconds per step: conditioning, network, decode, refine, total.
        spec_mae: refinement's (start, best) spectral MAE against the input; ``None`` without refinement.
        messages: things the user should know (no pitch found, transpose clamped).
    """

    f0_hz: float | None
    transpose: int
    residual_cents: float
    level_db: float
    gain_db: float
    backend: str
    refined: bool
    timings_ms: dict[str, float] = field(default_factory=dict)
    spec_mae: tuple[float, float] | None = None
    messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Inference:
    """One inferred voice.

    Attributes:
        voice: the voice, transpose set for the input's pitch.
        latent: its latent point zK, (latent_dim,) float32.
        diagnostics: pitch, level, backend, timings.
        model_input: what the network heard: (notes, samples) float32 at the model rate.
    """

    voice: Voice
    latent: np.ndarray
    diagnostics: Diagnostics
    model_input: np.ndarray


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


class Engine:
    """A loaded model: inference, encode / decode, macros. Build with :meth:`load`.

    Args:
        checkpoint: the loaded checkpoint.
        backend: its serving path (``engine.backends.select_backend``).
        refine: refine by default; ``None`` takes :data:`engine.refine.REFINE_BY_DEFAULT`.
        refine_budget_ms: refinement's time budget per inference.
    """

    def __init__(self, checkpoint: Checkpoint, backend: Backend, *, refine: bool | None = None,
                 refine_budget_ms: float = DEFAULT_BUDGET_MS) -> None:
        self.checkpoint = checkpoint
        self.backend = backend
        self.refine_by_default = REFINE_BY_DEFAULT if refine is None else refine
        self.refine_budget_ms = refine_budget_ms
        self.representation = get_representation(checkpoint.representation)
        frontend = checkpoint.config.frontend
        self.conditioner = Conditioner(frontend.sample_rate, frontend.num_samples, checkpoint.notes)
        self.refiner = Refiner(checkpoint.notes, frontend.sample_rate, frontend.duration_s)
        self._flow = regression_flow(checkpoint.config.model, checkpoint.serving_state)

    @classmethod
    def load(cls, path: Path | None = None, *, backend: str = "auto", refine: bool | None = None,
             refine_budget_ms: float = DEFAULT_BUDGET_MS, threads: int | None = None) -> Engine:
        """Load a checkpoint, build its backend and warm both up.

        Args:
            path: a serving checkpoint; ``None`` loads ``models/checkpoints/default.pt``.
            backend: ``"auto"`` or a backend name (``engine.backends.BACKENDS``).
            refine: refine by default (``None``: :data:`engine.refine.REFINE_BY_DEFAULT`).
            refine_budget_ms: refinement's time budget per inference.
            threads: intra-op threads for this process's torch and ONNX Runtime work (``None``: torch's
                default, every core); 1 leaves the other cores of a small machine to the daemon and the DAW.

        Raises:
            CheckpointError: missing or invalid checkpoint.
            BackendError: the backend is unknown or cannot run here.
        """
        if threads is not None:
            torch.set_num_threads(threads)  # before the backend: ONNX sessions take torch's count
        checkpoint = load_checkpoint(DEFAULT_CHECKPOINT if path is None else Path(path))
        engine = cls(checkpoint, select_backend(backend, checkpoint), refine=refine, refine_budget_ms=refine_budget_ms)
        engine.infer(engine.reference_tone(), engine.sample_rate, refine=False)  # compiles pitch tracking, warms the backend
        return engine

    @property
    def threads(self) -> int:
        """Intra-op threads inference runs on (torch's process-wide count, which ONNX sessions take)."""
        return torch.get_num_threads()

    @property
    def latent_dim(self) -> int:
        """Size of a latent point (= representation length)."""
        return self.checkpoint.latent_dim

    @property
    def sample_rate(self) -> int:
        """The model rate (22 050 Hz)."""
        return self.checkpoint.config.frontend.sample_rate

    @property
    def backend_name(self) -> str:
        """The running backend's registry name."""
        return self.backend.name

    @property
    def macro_count(self) -> int:
        """Number of macro controls: the principal axes stored in the checkpoint (0 without)."""
        axes = self.checkpoint.latent_axes
        return 0 if axes is None else axes.count

    def reference_tone(self) -> np.ndarray:
        """A decaying sine at the reference note over the model window: a harmless warm-up input."""
        t = np.arange(round(WARMUP_SECONDS * self.sample_rate)) / self.sample_rate
        frequency = 440.0 * 2.0 ** ((REFERENCE_NOTE - 69) / 12)
        return (0.5 * np.sin(2 * np.pi * frequency * t) * np.exp(-2.0 * t)).astype(np.float32)

    def infer(self, audio: np.ndarray, sample_rate: int, *, refine: bool | None = None) -> Inference:
        """The voice that best reproduces a recording.

        Args:
            audio: 1-D mono or (samples, channels) float audio of one note.
            sample_rate: its rate in Hz (any; resampled).
            refine: run render-and-compare refinement (``None``: the engine's default).

        Raises:
            ModelInputError: bad shape, rate, empty, NaN or inf.
            SilentInputError: silence.
            NoiseInputError: steady noise without pitch.
        """
        return self.infer_batch([audio], sample_rate, refine=refine)[0]

    def infer_batch(self, audios: Sequence[np.ndarray], sample_rate: int, *, refine: bool | None = None) -> list[Inference]:
        """:meth:`infer` for several recordings at one rate, the network run once on the batch.

        Raises:
            ModelInputError: no recordings, or one that :meth:`infer` refuses (the message names it).
        """
        if len(audios) == 0:
            raise ModelInputError("infer_batch got no recordings: pass a list of 1-D or (samples, channels) arrays")
        started = time.perf_counter()
        conditioned = [self._condition(audio, sample_rate, number, len(audios)) for number, audio in enumerate(audios)]
        conditioning_ms = _ms(started) / len(audios)
        started = time.perf_counter()
        params = self.backend.audio_to_params(np.stack([item.audio for item in conditioned]))
        network_ms = _ms(started) / len(audios)
        refine = self.refine_by_default if refine is None else refine
        return [self._finish(item, row, refine, {"conditioning": conditioning_ms, "network": network_ms})
                for item, row in zip(conditioned, params, strict=True)]

    def _condition(self, audio: np.ndarray, sample_rate: int, number: int, count: int) -> Conditioned:
        try:
            return self.conditioner(audio, sample_rate)
        except ModelInputError as error:
            if count == 1:
                raise
            raise type(error)(f"recording {number} of {count}: {error}") from None

    def _finish(self, conditioned: Conditioned, params: np.ndarray, refine: bool, timings: dict[str, float]) -> Inference:
        started = time.perf_counter()
        template = DEFAULT_TEMPLATE.replace({TRANSPOSE_INDEX: TRANSPOSE_CENTRE + conditioned.transpose})
        voice = self.representation.decode(params, template)
        latent = self._inverse_flow(params[None])[0]
        timings["decode"] = _ms(started)
        diagnostics = Diagnostics(
            conditioned.f0_hz, conditioned.transpose, conditioned.residual_cents, conditioned.level_db,
            conditioned.gain_db, self.backend_name, refine, timings, messages=conditioned.messages,
        )
        if refine:
            result = self.refiner.refine(voice, conditioned.audio, budget_ms=self.refine_budget_ms)
            if result.voice != voice:
                voice, latent = result.voice, self.encode(result.voice)
            timings["refine"] = result.elapsed_ms
            diagnostics = replace(diagnostics, spec_mae=(result.start_score, result.score))
        timings["total"] = sum(timings.values())
        return Inference(voice, latent, diagnostics, conditioned.audio)

    @torch.no_grad()
    def _inverse_flow(self, params: np.ndarray) -> np.ndarray:
        return self._flow.inverse(torch.from_numpy(np.ascontiguousarray(params, dtype=np.float32))).numpy()

    def encode(self, voice: Voice) -> np.ndarray:
        """The latent point zK of a voice (inverse regression flow): (latent_dim,) float32."""
        return self._inverse_flow(self.representation.encode(voice)[None])[0]

    def decode(self, latent: np.ndarray, template: Voice | None = None) -> Voice:
        """The voice at a latent point (forward regression flow, then the representation's decode).

        Args:
            latent: (latent_dim,) zK.
            template: gives the parameters that are not learned (transpose, name); default
                transpose 24 (none) and the name "DEXBRIDGE".

        Raises:
            ModelInputError: wrong size, NaN or inf.
        """
        point = np.asarray(latent, dtype=np.float32)
        if point.shape != (self.latent_dim,):
            raise ModelInputError(f"latent shape {point.shape}: expected ({self.latent_dim},) for this checkpoint "
                                  f"({self.checkpoint.representation})")
        if not np.isfinite(point).all():
            raise ModelInputError(f"latent holds {int((~np.isfinite(point)).sum())} NaN/inf values: give finite values")
        return self.representation.decode(self.backend.latent_to_params(point[None])[0], template)

    def macros_to_latent(self, values: Sequence[float], origin: np.ndarray | None = None) -> np.ndarray:
        """The latent point at macro positions (see :func:`engine.latent.macros_to_latent`).

        Raises:
            ModelInputError: the checkpoint has no latent axes, too many values, or bad origin.
        """
        axes = self.checkpoint.latent_axes
        if axes is None:
            raise ModelInputError(
                f"checkpoint {self.checkpoint.path or '(in memory)'} has no latent axes, so no macro controls: "
                "export it with 'dexbridge export-checkpoint --axes-corpus CORPUS.sqlite'"
            )
        return macros_to_latent(axes, values, origin)
