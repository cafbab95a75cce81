"""Versioned, atomic, ``torch.load(weights_only=True)``-safe checkpoints.

A checkpoint carries its contract: the resolved :class:`RunConfig` and its
hash, the front-end normalisation stats, the representation, the note set and the I/O shapes,
next to the serving weights (encoder + both flows). A training checkpoint adds the decoder
weights and a :class:`TrainingSnapshot` (optimizer, counters, RNG states, metrics history) so a
cut run resumes exactly; :func:`export_serving` strips both for shipping, optionally storing
float16 weights (restored to float32 on load).

The file holds only tensors and plain Python containers and scalars, so it loads with
``weights_only=True``: opening an untrusted checkpoint never runs code. It is written to a
temporary file beside the target and moved into place with ``os.replace``: a cut never leaves
a half-written checkpoint.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models.config import RunConfig, hash_config_dict
from models.corpus import open_corpus
from models.errors import CheckpointError, ConfigError, ModelInputError
from models.frontend import FrontendStats
from models.latent_axes import LatentAxes, encode_voices, fit_latent_axes, regression_flow
from models.layout import DEFAULT_CHECKPOINT as DEFAULT_CHECKPOINT  # where it always was imported from
from models.networks import SoundToVoice

FORMAT = "dexbridge-checkpoint"
FORMAT_VERSION = 1


@dataclass
class TrainingSnapshot:
    """What resuming a cut training run needs, beyond the weights.

    Attributes:
        optimizer_state: ``optimizer.state_dict()``.
        epoch: the epoch in progress (0-based); equals the epochs run once an epoch is complete.
        epoch_step: batches of ``epoch`` already trained (0 at an epoch boundary).
        step: optimizer steps since the start of the run.
        best_val: lowest validation ``loss/total`` so far (``inf`` before the first).
        seconds: time spent in training steps (validation and saving aside), over every resumed part.
        rng: RNG states as tensors and plain values (:func:`capture_rng`).
        epoch_sums: running sums of the epoch in progress (its mean losses once complete).
        metrics: one dict per logged event (epoch end or cut): the rows of ``train_log.csv``.
    """

    optimizer_state: dict[str, Any]
    epoch: int
    epoch_step: int
    step: int
    best_val: float
    seconds: float
    rng: dict[str, Any]
    epoch_sums: dict[str, float] = field(default_factory=dict)
    metrics: list[dict[str, float]] = field(default_factory=list)


@dataclass
class Checkpoint:
    """A loaded checkpoint: the contract, the weights (float32) and, when training, the rest.

    Attributes:
        config: the run's resolved configuration.
        frontend_stats: dB range of the training spectrograms (the front end's normalisation).
        serving_state: state dict of ``SoundToVoice.serving`` (encoder + latent + regression flow).
        decoder_state: state dict of the decoder; ``None`` in a serving export.
        training: resume state; ``None`` in a serving export.
        path: where it was loaded from (``None`` when built in memory).
        latent_axes: principal axes of the training latents (macro controls); ``None`` when not
            computed (``dexbridge export-checkpoint --axes-corpus``). Optional: older files load.
    """

    config: RunConfig
    frontend_stats: FrontendStats
    serving_state: dict[str, torch.Tensor]
    decoder_state: dict[str, torch.Tensor] | None = None
    training: TrainingSnapshot | None = None
    path: Path | None = None
    latent_axes: LatentAxes | None = None

    @property
    def config_hash(self) -> str:
        """Names the run: :meth:`RunConfig.config_hash`."""
        return self.config.config_hash()

    @property
    def representation(self) -> str:
        """The learnable representation the model outputs ("num", "numcat" or "numcat++")."""
        return self.config.model.representation

    @property
    def notes(self) -> tuple[tuple[int, int], ...]:
        """(MIDI pitch, velocity) of each input channel."""
        return self.config.model.notes

    @property
    def spectrogram_shape(self) -> tuple[int, int, int]:
        """Model input per example: (notes, n_mels, frames)."""
        return (self.config.model.n_notes, self.config.frontend.n_mels, self.config.frontend.num_frames)

    @property
    def latent_dim(self) -> int:
        """Latent size = model output size = representation length."""
        return self.config.model.latent_dim


def save_checkpoint(path: Path, checkpoint: Checkpoint, *, half: bool = False) -> Path:
    """Write ``checkpoint`` atomically (temporary file + ``os.replace``).

    Args:
        path: target file; its directory is created when missing.
        checkpoint: what to store; ``decoder_state`` and ``training`` are written when present.
        half: store floating-point weights as float16 (half the size; loads as float32).

    Returns:
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dtype = torch.float16 if half else torch.float32
    payload: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": checkpoint.config.to_dict(),
        "config_hash": checkpoint.config_hash,
        "frontend_stats": dataclasses.asdict(checkpoint.frontend_stats),
        "representation": checkpoint.representation,
        "notes": [list(note) for note in checkpoint.notes],
        "spectrogram_shape": list(checkpoint.spectrogram_shape),
        "latent_dim": checkpoint.latent_dim,
        "weights_dtype": "float16" if half else "float32",
        "serving_state": _cast_floats(checkpoint.serving_state, dtype),
    }
    if checkpoint.decoder_state is not None:
        payload["decoder_state"] = _cast_floats(checkpoint.decoder_state, dtype)
    if checkpoint.latent_axes is not None:
        payload["latent_axes"] = checkpoint.latent_axes.to_payload()
    if checkpoint.training is not None:
        training = checkpoint.training  # shallow: asdict would deep-copy the optimizer state
        payload["training"] = {f.name: getattr(training, f.name) for f in dataclasses.fields(training)}
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(descriptor)
    try:
        with open(temporary, "wb") as file:
            torch.save(payload, file)
            file.flush()
            os.fsync(file.fileno())  # on disk before it takes the name: a power cut keeps the old file
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: Path, *, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read and validate a checkpoint (``weights_only=True``: no code runs).

    Args:
        path: a file from :func:`save_checkpoint` or :func:`export_serving`.
        map_location: device for the tensors.

    Returns:
        The checkpoint, weights as float32.

    Raises:
        CheckpointError: missing file, not a dexbridge checkpoint, unsupported
            ``format_version``, invalid config, or a contract the weights do not fit.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found: train one with 'dexbridge train' or give a .pt file")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except OSError:
        raise  # unreadable (permissions, I/O): not a question of format
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{path} is not a dexbridge checkpoint: it holds Python objects that a weights-only load does "
            "not rebuild (loading it fully could run code: do so only if you trust its source)"
        ) from None
    except Exception as error:  # noqa: BLE001 - any parse failure of foreign bytes (KeyError, RuntimeError...)
        reason = f"{type(error).__name__}: {(str(error).splitlines() or [''])[0]}"
        raise CheckpointError(f"{path} is not a dexbridge checkpoint (torch.load cannot read it: {reason})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a dexbridge checkpoint: it has no 'format': '{FORMAT}' entry")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format_version {version!r}; this dexbridge reads version {FORMAT_VERSION}: "
            "load it with the dexbridge version that wrote it, or retrain"
        )
    try:
        checkpoint = _from_payload(path, payload)
        _check_contract(path, payload, checkpoint)
    except KeyError as error:
        raise CheckpointError(f"{path} is a damaged dexbridge checkpoint: entry {error} is missing") from None
    return checkpoint


def _from_payload(path: Path, payload: dict[str, Any]) -> Checkpoint:
    """The checkpoint of a loaded file; float16 weights come back as float32."""
    try:
        config = RunConfig.from_stored(payload["config"], source=f"{path} (stored config)")
        stats = FrontendStats(**payload["frontend_stats"])
    except (ConfigError, TypeError) as error:
        raise CheckpointError(f"{path} holds an invalid config or front-end stats: {error}") from None
    decoder_state, training, axes = payload.get("decoder_state"), payload.get("training"), payload.get("latent_axes")
    try:
        snapshot = None if training is None else TrainingSnapshot(**training)
    except TypeError as error:
        raise CheckpointError(f"{path} holds an invalid training snapshot: {error}") from None
    try:
        latent_axes = None if axes is None else LatentAxes.from_payload(axes)
    except ModelInputError as error:
        raise CheckpointError(f"{path} holds invalid latent axes: {error}; export it again with --axes-corpus") from None
    return Checkpoint(
        config=config,
        frontend_stats=stats,
        serving_state=_cast_floats(payload["serving_state"], torch.float32),
        decoder_state=None if decoder_state is None else _cast_floats(decoder_state, torch.float32),
        training=snapshot,
        path=path,
        latent_axes=latent_axes,
    )


def _check_contract(path: Path, payload: dict[str, Any], checkpoint: Checkpoint) -> None:
    """The stored hash, representation, notes and shapes agree with the config and the weights."""
    stored_hash = hash_config_dict(payload["config"])
    if payload["config_hash"] != stored_hash:
        raise CheckpointError(
            f"{path}: config_hash {payload['config_hash']} does not match its stored config "
            f"({stored_hash}): the file was altered; use the original checkpoint"
        )
    stored = {
        "representation": payload["representation"],
        "notes": [tuple(note) for note in payload["notes"]],
        "spectrogram_shape": tuple(payload["spectrogram_shape"]),
        "latent_dim": payload["latent_dim"],
    }
    expected = {
        "representation": checkpoint.representation,
        "notes": list(checkpoint.notes),
        "spectrogram_shape": checkpoint.spectrogram_shape,
        "latent_dim": checkpoint.latent_dim,
    }
    for key, value in stored.items():
        if value != expected[key]:
            raise CheckpointError(f"{path}: stored {key} {value} disagrees with its config ({expected[key]})")
    axes = checkpoint.latent_axes
    if axes is not None and axes.mean.shape != (checkpoint.latent_dim,):
        raise CheckpointError(f"{path}: latent axes of size {axes.mean.shape[0]} for a {checkpoint.latent_dim}-d latent")
    gaussian = checkpoint.serving_state.get("encoder.to_gaussian.weight")
    if gaussian is None:
        raise CheckpointError(f"{path}: serving weights lack 'encoder.to_gaussian.weight': not a SoundToVoice model")
    outputs = gaussian.shape[0] // 2
    if outputs != checkpoint.latent_dim:
        raise CheckpointError(
            f"{path}: config expects {checkpoint.latent_dim} outputs ({checkpoint.representation}), "
            f"weights give {outputs}: the config and the weights come from different runs"
        )


def build_model(checkpoint: Checkpoint, *, with_decoder: bool = False) -> SoundToVoice:
    """The model of a checkpoint, weights loaded, in eval mode, on the weights' device.

    Args:
        checkpoint: from :func:`load_checkpoint` (or built in memory).
        with_decoder: also build and load the spectrogram decoder (training and tests only).

    Raises:
        CheckpointError: ``with_decoder`` on a checkpoint without decoder weights, or weights
            whose names or shapes do not fit the model the config describes.
    """
    if with_decoder and checkpoint.decoder_state is None:
        raise CheckpointError(
            f"checkpoint {checkpoint.path or '(in memory)'} has no decoder weights (a serving export): "
            "use the training checkpoint (latest.pt / best.pt) to build the decoder"
        )
    model_config = dataclasses.replace(checkpoint.config.model, decoder=with_decoder)
    model = SoundToVoice(model_config, checkpoint.config.frontend)
    parts: list[tuple[str, nn.Module, dict[str, torch.Tensor]]] = [("serving", model.serving, checkpoint.serving_state)]
    if model.decoder is not None and checkpoint.decoder_state is not None:
        parts.append(("decoder", model.decoder, checkpoint.decoder_state))
    for name, module, state in parts:
        _load_strict(checkpoint, name, module, state)
    device = next(iter(checkpoint.serving_state.values())).device
    return model.to(device).eval()


def _load_strict(checkpoint: Checkpoint, name: str, module: nn.Module, state: dict[str, torch.Tensor]) -> None:
    expected = module.state_dict()
    problems = [f"missing {key}" for key in expected if key not in state]
    problems += [f"unexpected {key}" for key in state if key not in expected]
    problems += [
        f"{key} {tuple(state[key].shape)} (model {tuple(tensor.shape)})"
        for key, tensor in expected.items() if key in state and state[key].shape != tensor.shape
    ]
    if problems:
        more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise CheckpointError(
            f"checkpoint {checkpoint.path or '(in memory)'}: {name} weights do not fit the model its config "
            f"describes: {'; '.join(problems[:3])}{more}"
        )
    module.load_state_dict(state)


def export_serving(checkpoint_path: Path, out_path: Path, half: bool = False) -> Path:
    """Write the slim serving checkpoint of a training checkpoint: no decoder, no optimizer.

    Args:
        checkpoint_path: a training checkpoint (e.g. ``RUN_DIR/best.pt``).
        out_path: the serving checkpoint to write (e.g. ``models/checkpoints/default.pt``).
        half: store float16 weights (restored to float32 on load).

    Returns:
        ``out_path``.

    Raises:
        CheckpointError: ``checkpoint_path`` cannot be loaded (see :func:`load_checkpoint`).
    """
    source = load_checkpoint(checkpoint_path)
    slim = Checkpoint(source.config, source.frontend_stats, source.serving_state, latent_axes=source.latent_axes)
    return save_checkpoint(out_path, slim, half=half)


def add_latent_axes(path: Path, corpus_path: Path, count: int, *, half: bool = False) -> Checkpoint:
    """Store in a checkpoint the principal axes of the latents of a corpus's train split.

    Args:
        path: the checkpoint to update in place (atomically).
        corpus_path: a corpus (``dexbridge corpus build``); its ``train`` voices are encoded with
            the checkpoint's inverse regression flow.
        count: number of axes k.
        half: write float16 weights (as the file had them).

    Returns:
        The updated checkpoint.

    Raises:
        CheckpointError: ``path`` cannot be loaded.
        CorpusError: ``corpus_path`` is not a corpus.
        ModelInputError: fewer than ``count + 1`` train voices.
    """
    checkpoint = load_checkpoint(path)
    with open_corpus(corpus_path) as corpus:
        voices = corpus.voices("train")
    flow = regression_flow(checkpoint.config.model, checkpoint.serving_state)
    axes = fit_latent_axes(encode_voices(flow, checkpoint.representation, voices), count)
    save_checkpoint(path, dataclasses.replace(checkpoint, latent_axes=axes), half=half)
    return load_checkpoint(path)


def store_latent_axes(path: Path, axes: LatentAxes) -> Checkpoint:
    """Replace the latent axes of a checkpoint in place (atomically), its weights kept as stored (float16 or 32).

    Raises:
        CheckpointError: ``path`` cannot be loaded, or the axes do not fit its latent.
    """
    checkpoint = load_checkpoint(path)
    if axes.mean.shape != (checkpoint.latent_dim,):
        raise CheckpointError(f"{path}: latent axes of size {axes.mean.shape[0]} for a {checkpoint.latent_dim}-d latent")
    half = torch.load(path, map_location="cpu", weights_only=True).get("weights_dtype") == "float16"
    save_checkpoint(path, dataclasses.replace(checkpoint, latent_axes=axes), half=half)
    return load_checkpoint(path)


def capture_rng() -> dict[str, Any]:
    """The torch (CPU and CUDA), numpy and Python RNG states as tensors and plain values."""
    numpy_state = np.random.get_state()
    python_version, python_state, python_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(numpy_state[1].astype(np.int64)),
        "numpy_position": int(numpy_state[2]),
        "numpy_gauss": [int(numpy_state[3]), float(numpy_state[4])],
        "python_version": python_version,
        "python_state": torch.tensor(python_state, dtype=torch.int64),
    }
    if python_gauss is not None:
        state["python_gauss"] = python_gauss
    if torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Set the RNGs to a :func:`capture_rng` state (CUDA ones for the devices present)."""
    torch.set_rng_state(state["torch"].cpu())
    has_gauss, cached = state["numpy_gauss"]
    keys = state["numpy_keys"].cpu().numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, state["numpy_position"], has_gauss, cached))
    python_state = tuple(int(value) for value in state["python_state"].tolist())
    random.setstate((state["python_version"], python_state, state.get("python_gauss")))
    if "cuda" in state and torch.cuda.is_available():
        for device, cuda_state in enumerate(state["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state.cpu(), device)


def _cast_floats(state: dict[str, torch.Tensor], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Detached tensors on their device; floating-point ones cast to ``dtype``, integer buffers unchanged."""
    return {key: tensor.detach().to(dtype) if tensor.is_floating_point() else tensor.detach()
            for key, tensor in state.items()}
