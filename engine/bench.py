"""``dexbridge bench``: p50/p99 of the serving path, per stage and end to end, for every backend,
against the paper's architecture run eagerly in the same process (DESIGN.md section 6).

Measured in rounds: each round times every metric of every backend and of the baseline once,
so a load change on a shared machine hits all of them alike and the ratio stays meaningful.
audio -> voice is front end + encoder + flows + representation decode to a :class:`Voice`
(batch 1; input conditioning and pitch tracking are not part of it); latent -> voice is the
forward regression flow + decode (what a morph or macro control costs).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from engine.backends import Backend, select_backend, unavailable_reason
from engine.backends.torch_impl import TorchBackend
from models.checkpoint import Checkpoint
from models.config import RunConfig, load_config
from models.errors import BackendError
from models.frontend import FrontendStats
from models.networks import SoundToVoice
from models.representations import DEFAULT_TEMPLATE, get_representation

__all__ = ["PAPER_CONFIG", "BenchReport", "paper_baseline", "random_checkpoint", "run_bench"]

PAPER_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "paper.toml"
"""The paper's architecture (configs/paper.toml in the source tree): the baseline."""

END_TO_END = ("audio_to_voice_ms", "latent_to_voice_ms")
STAGE_METRICS = ("frontend_ms", "encoder_ms", "flows_ms", "decode_ms")
BASELINE = "baseline_paper_eager"


def random_checkpoint(config: RunConfig, seed: int = 0) -> Checkpoint:
    """An in-memory serving checkpoint of ``config`` with seeded random weights (for timing:
    speed does not depend on the weights)."""
    torch.manual_seed(seed)
    model = SoundToVoice(dataclasses.replace(config.model, decoder=False), config.frontend)
    stats = FrontendStats(min_db=config.frontend.floor_db, max_db=0.0)
    return Checkpoint(config, stats, model.serving.state_dict())


def paper_baseline(checkpoint: Checkpoint, config_path: Path = PAPER_CONFIG) -> Checkpoint:
    """The paper's architecture with ``checkpoint``'s notes, representation and front end, random weights.

    Raises:
        ConfigError: ``config_path`` is missing or invalid (the message names it).
    """
    paper = load_config(config_path)
    model = dataclasses.replace(paper.model, notes=checkpoint.notes, representation=checkpoint.representation)
    return random_checkpoint(dataclasses.replace(paper, model=model, frontend=checkpoint.config.frontend))


def _percentiles(samples: list[float]) -> dict[str, float]:
    p50, p99 = np.percentile(samples, [50, 99])
    return {"p50": round(float(p50), 4), "p99": round(float(p99), 4)}


def _probes(backend: Backend, checkpoint: Checkpoint, audio: np.ndarray, latent: np.ndarray) -> dict[str, Callable[[], Any]]:
    """Metric name -> a call to time, each on inputs computed once by the backend's own stages."""
    representation = get_representation(checkpoint.representation)
    spectrogram = backend.run_stage("frontend", audio)
    mu = backend.run_stage("encoder", spectrogram)
    params = backend.run_stage("regression_flow", backend.run_stage("latent_flow", mu))[0]
    return {
        "audio_to_voice_ms": lambda: representation.decode(backend.audio_to_params(audio)[0], DEFAULT_TEMPLATE),
        "latent_to_voice_ms": lambda: representation.decode(backend.latent_to_params(latent)[0], DEFAULT_TEMPLATE),
        "frontend_ms": lambda: backend.run_stage("frontend", audio),
        "encoder_ms": lambda: backend.run_stage("encoder", spectrogram),
        "flows_ms": lambda: backend.run_stage("regression_flow", backend.run_stage("latent_flow", mu)),
        "decode_ms": lambda: representation.decode(params, DEFAULT_TEMPLATE),
    }


@dataclass
class BenchReport:
    """Percentiles per backend and metric, the baseline's, and what could not run.

    Attributes:
        backends: backend name -> metric -> {"p50", "p99"} in ms.
        baseline: the paper's architecture, eager torch: metric -> {"p50", "p99"}.
        skipped: backend name -> why it did not run here.
        iterations: timed rounds (after warm-up).
        threads: torch intra-op threads during the run.
    """

    backends: dict[str, dict[str, dict[str, float]]]
    baseline: dict[str, dict[str, float]]
    skipped: dict[str, str]
    iterations: int
    threads: int

    @property
    def fastest(self) -> str:
        """The backend with the lowest audio -> voice p50."""
        return min(self.backends, key=lambda name: self.backends[name]["audio_to_voice_ms"]["p50"])

    @property
    def speedup_vs_paper_p50(self) -> float:
        """Baseline audio -> voice p50 over the fastest backend's."""
        best = self.backends[self.fastest]["audio_to_voice_ms"]["p50"]
        return round(self.baseline["audio_to_voice_ms"]["p50"] / best, 3)

    def to_json(self) -> dict[str, Any]:
        """``{"backends": ..., "baseline_paper_eager": ..., "speedup_vs_paper_p50": x}``."""
        return {"backends": self.backends, BASELINE: self.baseline, "speedup_vs_paper_p50": self.speedup_vs_paper_p50}


def run_bench(
    checkpoint: Checkpoint,
    backends: Iterable[str],
    *,
    iterations: int = 100,
    warmup: int = 10,
    threads: int = 2,
    baseline: Checkpoint | None = None,
    progress: bool = True,
) -> BenchReport:
    """Time the serving path of ``checkpoint`` on each named backend that runs here, and the
    paper's architecture eagerly, in interleaved rounds.

    Args:
        checkpoint: the model to time.
        backends: registry names; those that cannot run here are reported in ``skipped``.
        iterations: timed rounds.
        warmup: untimed rounds first (caches, allocators, profiling executors).
        threads: torch intra-op threads for the run (restored afterwards).
        baseline: the baseline model (default :func:`paper_baseline` of ``checkpoint``).
        progress: show a progress bar on stderr.

    Raises:
        BackendError: none of ``backends`` runs here.
    """
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        subjects, skipped = _build_subjects(checkpoint, backends)
        baseline_checkpoint = baseline if baseline is not None else paper_baseline(checkpoint)
        subjects[BASELINE] = (TorchBackend(baseline_checkpoint), baseline_checkpoint)
        samples = _time_rounds(subjects, iterations, warmup, progress)
    finally:
        torch.set_num_threads(previous_threads)
    percentiles = {name: {metric: _percentiles(values) for metric, values in metrics.items()} for name, metrics in samples.items()}
    return BenchReport({name: percentiles[name] for name in subjects if name != BASELINE}, percentiles[BASELINE],
                       skipped, iterations, threads)


def _build_subjects(checkpoint: Checkpoint, names: Iterable[str]) -> tuple[dict[str, tuple[Backend, Checkpoint]], dict[str, str]]:
    subjects: dict[str, tuple[Backend, Checkpoint]] = {}
    skipped: dict[str, str] = {}
    for name in names:
        reason = unavailable_reason(name)
        if reason is None:
            subjects[name] = (select_backend(name, checkpoint), checkpoint)
        else:
            skipped[name] = reason
    if not subjects:
        raise BackendError(f"no backend to time runs here: {'; '.join(f'{n} ({r})' for n, r in skipped.items())}")
    return subjects, skipped


def _time_rounds(
    subjects: dict[str, tuple[Backend, Checkpoint]], iterations: int, warmup: int, progress: bool
) -> dict[str, dict[str, list[float]]]:
    rng = np.random.default_rng(0)
    samples: dict[str, dict[str, list[float]]] = {}
    probes: dict[str, dict[str, Callable[[], Any]]] = {}
    for name, (backend, model) in subjects.items():
        audio = (0.1 * rng.standard_normal((1, model.config.model.n_notes, model.config.frontend.num_samples))).astype(np.float32)
        latent = rng.standard_normal((1, model.latent_dim)).astype(np.float32)
        probes[name] = _probes(backend, model, audio, latent)
        samples[name] = {metric: [] for metric in probes[name]}
    for round_number in tqdm(range(warmup + iterations), desc="bench rounds", unit="round", disable=not progress):
        for name, calls in probes.items():
            for metric, call in calls.items():
                started = time.perf_counter()
                call()
                elapsed_ms = (time.perf_counter() - started) * 1000.0
                if round_number >= warmup:
                    samples[name][metric].append(elapsed_ms)
    return samples
