"""Where compiled graphs of a checkpoint are cached: beside it, keyed by a hash of its contents.

``<checkpoint>.<key>.<stage>.<suffix>`` in the checkpoint's folder; when that folder is
read-only (or the checkpoint was built in memory), in ``$XDG_CACHE_HOME/dexbridge/<kind>``
(default ``~/.cache``). The key hashes the weights, config, front-end stats, the torch version
and the caller's format tag, so a changed checkpoint or exporter never runs a stale graph.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from engine.backends.staged import STAGES, example_inputs, serving_parts
from models.checkpoint import Checkpoint


def cache_key(checkpoint: Checkpoint, tag: str) -> str:
    """16 hex digits naming the compiled graphs of ``checkpoint`` in format ``tag``."""
    digest = hashlib.sha256(f"{tag}|{torch.__version__}|{checkpoint.config_hash}|{checkpoint.frontend_stats!r}".encode())
    for name in sorted(checkpoint.serving_state):
        digest.update(name.encode())
        digest.update(checkpoint.serving_state[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def user_cache_dir(kind: str) -> Path:
    """``$XDG_CACHE_HOME/dexbridge/<kind>`` (default ``~/.cache``); it may not exist yet."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dexbridge" / kind


def cache_dir(checkpoint: Checkpoint, kind: str) -> Path:
    """The checkpoint's folder when writable, else :func:`user_cache_dir`."""
    if checkpoint.path is not None and os.access(checkpoint.path.resolve().parent, os.W_OK):
        return checkpoint.path.resolve().parent
    return user_cache_dir(kind)


def stage_paths(
    checkpoint: Checkpoint, kind: str, tag: str, suffix: str, stages: Sequence[str] = STAGES
) -> dict[str, Path]:
    """The cache file of each of ``stages``.

    Args:
        checkpoint: whose graphs are cached.
        kind: the cache subfolder used when the checkpoint's folder is read-only ("onnx", "tensorrt").
        tag: format and version of the files (part of the key).
        suffix: file extension without the dot.
        stages: the stages compiled to files (default all of :data:`STAGES`).
    """
    stem = checkpoint.path.name if checkpoint.path is not None else f"in-memory-{checkpoint.config_hash}"
    folder, key = cache_dir(checkpoint, kind), cache_key(checkpoint, tag)
    return {stage: folder / f"{stem}.{key}.{stage}.{suffix}" for stage in stages}


@contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, moved onto it when the block succeeds, removed otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(descriptor)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o644)  # mkstemp makes it owner-only; a cache beside a shared checkpoint is for all
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def build_missing(
    checkpoint: Checkpoint, paths: dict[str, Path], build: Callable[[str, nn.Module, torch.Tensor, Path], None]
) -> list[str]:
    """Build the cache file of each stage whose file is missing, atomically per file.

    Args:
        checkpoint: whose stages are built (as exportable modules, with example inputs).
        paths: the cache file of each stage (:func:`stage_paths`).
        build: ``build(stage, module, example_input, temporary_path)`` writes one file.

    Returns:
        The stages built (empty when everything came from the cache).
    """
    missing = [stage for stage, path in paths.items() if not path.is_file()]
    if missing:
        parts, examples = serving_parts(checkpoint, exportable=True), example_inputs(checkpoint)
        for stage in missing:
            with atomic_target(paths[stage]) as temporary:
                build(stage, parts[stage], examples[stage], temporary)
    return missing
