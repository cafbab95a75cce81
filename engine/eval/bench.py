"""``dexbridge bench``: p50/p99 of the serving path, per stage and end to end, for every backend,
against the paper's architecture run eagerly in the same process.

Measured in rounds: each round times every metric of every backend and of the baseline once,
so a load change on a shared machine hits all of them alike and the ratio stays meaningful (one
metric on every subject, then the next).
audio -> voice is front end + encoder + flows + representation decode to a :class:`Voice`
(batch 1; input conditioning and pitch tracking are not part of it); latent -> voice is the
forward regression flow + decode through each backend, and through ``Engine.decode``'s own path
(:class:`engine.latent_decoder.LatentDecoder`, compiled, at batch 1 whatever the backend: what a morph or
macro control costs), timed in the same rounds as ``engine_decode``. latent -> voice is timed twice:
once per round after the audio path has run (``latent_to_voice_ms``: a lone control message, the
weights no longer in cache; for its 3.3 MB of float16 weights that is memory bandwidth), and as the steps of a sweep
(``sweep_step_ms``: :data:`SWEEP_STEPS` points along a line after a first, untimed one: each message
of a gesture after its first, the weights still in cache).
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
from engine.latent_decoder import LatentDecoder
from models.checkpoint import Checkpoint
from models.config import RunConfig, load_config
from models.dsp import percentiles
from models.errors import BackendError
from models.frontend import FrontendStats
from models.latent_axes import regression_flow
from models.layout import PAPER_CONFIG
from models.networks import SoundToVoice
from models.representations import DEFAULT_TEMPLATE, get_representation

__all__ = ["BenchReport", "p50_p99", "paper_baseline", "random_checkpoint", "run_bench", "timed_once"]

END_TO_END = ("audio_to_voice_ms", "latent_to_voice_ms", "sweep_step_ms")
STAGE_METRICS = ("frontend_ms", "encoder_ms", "flows_ms", "decode_ms")
BASELINE = "baseline_paper_eager"
ENGINE_DECODE = "engine_decode"
SWEEP_STEPS = 8

Probe = Callable[[], list[float]]
"""A timed call: runs once, returns the milliseconds of each timed part."""


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


def p50_p99(samples: list[float]) -> dict[str, float]:
    """p50 and p99 of timings in ms, rounded to 0.1 µs."""
    return {name: round(value, 4) for name, value in percentiles(samples).items()}


def timed_once(call: Callable[[], Any]) -> Probe:
    """A probe that runs ``call`` once and returns its milliseconds."""

    def run() -> list[float]:
        started = time.perf_counter()
        call()
        return [(time.perf_counter() - started) * 1000.0]

    return run


def _sweep(decode: Callable[[np.ndarray], Any], start: np.ndarray) -> Probe:
    """latent -> voice at :data:`SWEEP_STEPS` + 1 points of the line from ``start`` to ``-start``,
    every step timed but the first (which pays for cold caches, as ``latent_to_voice_ms`` does)."""
    points = [start * np.float32(1.0 - 2.0 * step / SWEEP_STEPS) for step in range(SWEEP_STEPS + 1)]

    def run() -> list[float]:
        decode(points[0])
        elapsed = []
        for point in points[1:]:
            started = time.perf_counter()
            decode(point)
            elapsed.append((time.perf_counter() - started) * 1000.0)
        return elapsed

    return run


def _probes(backend: Backend, checkpoint: Checkpoint, audio: np.ndarray, latent: np.ndarray) -> dict[str, Probe]:
    """Metric name -> a timed call, each on inputs computed once by the backend's own stages."""
    representation = get_representation(checkpoint.representation)
    spectrogram = backend.run_stage("frontend", audio)
    mu = backend.run_stage("encoder", spectrogram)
    params = backend.run_stage("regression_flow", backend.run_stage("latent_flow", mu))[0]

    def latent_to_voice(point: np.ndarray) -> Any:
        return representation.decode(backend.latent_to_params(point)[0], DEFAULT_TEMPLATE)

    return {
        "audio_to_voice_ms": timed_once(lambda: representation.decode(backend.audio_to_params(audio)[0], DEFAULT_TEMPLATE)),
        "latent_to_voice_ms": timed_once(lambda: latent_to_voice(latent)),
        "sweep_step_ms": _sweep(latent_to_voice, latent),
        "frontend_ms": timed_once(lambda: backend.run_stage("frontend", audio)),
        "encoder_ms": timed_once(lambda: backend.run_stage("encoder", spectrogram)),
        "flows_ms": timed_once(lambda: backend.run_stage("regression_flow", backend.run_stage("latent_flow", mu))),
        "decode_ms": timed_once(lambda: representation.decode(params, DEFAULT_TEMPLATE)),
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
        engine_decode: ``Engine.decode``'s latent -> voice (compiled regression flow + decode):
            ``{"latent_to_voice_ms": {"p50", "p99"}, "sweep_step_ms": {"p50", "p99"}}``.
    """

    backends: dict[str, dict[str, dict[str, float]]]
    baseline: dict[str, dict[str, float]]
    skipped: dict[str, str]
    iterations: int
    threads: int
    engine_decode: dict[str, dict[str, float]]

    @property
    def fastest(self) -> str:
        """The backend with the lowest audio -> voice p50."""
        return min(self.backends, key=lambda name: self.backends[name]["audio_to_voice_ms"]["p50"])

    @property
    def speedup_vs_paper_p50(self) -> float:
        """Baseline audio -> voice p50 over the fastest backend's."""
        best = self.backends[self.fastest]["audio_to_voice_ms"]["p50"]
        return round(self.baseline["audio_to_voice_ms"]["p50"] / best, 3)

    @property
    def latent_speedup_vs_paper_p50(self) -> float:
        """Baseline latent -> voice p50 (eager torch) over ``Engine.decode``'s."""
        return round(self.baseline["latent_to_voice_ms"]["p50"] / self.engine_decode["latent_to_voice_ms"]["p50"], 3)

    def to_json(self) -> dict[str, Any]:
        """``{"backends": ..., "baseline_paper_eager": ..., "engine_decode": ..., "speedup_vs_paper_p50": x,
        "latent_speedup_vs_paper_p50": y, "skipped": {backend: why}}``."""
        return {"backends": self.backends, BASELINE: self.baseline, ENGINE_DECODE: self.engine_decode,
                "speedup_vs_paper_p50": self.speedup_vs_paper_p50,
                "latent_speedup_vs_paper_p50": self.latent_speedup_vs_paper_p50, "skipped": self.skipped}


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
        samples = _time_rounds(_all_probes(subjects, checkpoint), iterations, warmup, progress)
    finally:
        torch.set_num_threads(previous_threads)
    figures = {name: {metric: p50_p99(values) for metric, values in metrics.items()} for name, metrics in samples.items()}
    return BenchReport({name: figures[name] for name in subjects if name != BASELINE}, figures[BASELINE],
                       skipped, iterations, threads, figures[ENGINE_DECODE])


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


def _all_probes(subjects: dict[str, tuple[Backend, Checkpoint]], checkpoint: Checkpoint) -> dict[str, dict[str, Probe]]:
    """Subject name -> metric -> timed call: every backend's and the baseline's, and ``Engine.decode``'s latent path."""
    rng = np.random.default_rng(0)
    probes: dict[str, dict[str, Probe]] = {}
    for name, (backend, model) in subjects.items():
        audio = (0.1 * rng.standard_normal((1, model.config.model.n_notes, model.config.frontend.num_samples))).astype(np.float32)
        latent = rng.standard_normal((1, model.latent_dim)).astype(np.float32)
        probes[name] = _probes(backend, model, audio, latent)
    decoder = LatentDecoder(regression_flow(checkpoint.config.model, checkpoint.serving_state),
                            get_representation(checkpoint.representation))
    point = rng.standard_normal(checkpoint.latent_dim).astype(np.float32)

    def decode(latent: np.ndarray) -> Any:
        return decoder.voice(latent, DEFAULT_TEMPLATE)

    probes[ENGINE_DECODE] = {"latent_to_voice_ms": timed_once(lambda: decode(point)), "sweep_step_ms": _sweep(decode, point)}
    return probes


def _time_rounds(probes: dict[str, dict[str, Probe]], iterations: int, warmup: int,
                 progress: bool) -> dict[str, dict[str, list[float]]]:
    """Each round runs one metric on every subject before the next metric, so that no subject's
    latent -> voice runs with its regression flow's weights left in cache by its own audio path."""
    samples: dict[str, dict[str, list[float]]] = {name: {metric: [] for metric in calls} for name, calls in probes.items()}
    metrics = [metric for metric in (*END_TO_END, *STAGE_METRICS) if any(metric in calls for calls in probes.values())]
    for round_number in tqdm(range(warmup + iterations), desc="bench rounds", unit="round", disable=not progress):
        for metric in metrics:
            for name, calls in probes.items():
                if metric in calls:
                    elapsed_ms = calls[metric]()
                    if round_number >= warmup:
                        samples[name][metric] += elapsed_ms
    return samples
