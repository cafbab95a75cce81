"""``dexbridge bench --score``: what scoring one voice costs the search, with the engine's malloc settings
(:func:`engine.allocator.keep_large_blocks`) and with glibc's defaults; and what its spectrograms cost, against the
paper metric's own.

A score (:func:`engine.search_score.score_renders`) renders the voice and compares its spectrograms with the
recording's. A malloc setting holds for a whole process and cannot be undone, so the two are timed in two worker
processes started alike (fresh interpreters, one BLAS thread, as a render worker runs): in each round both score
the same library voice against the same recording, one after the other (each first every other round), so that
the machine's load falls on both alike. In the same rounds, the engine's worker takes the spectrograms of one render
the way the search does (:func:`engine.search_score.spectra`: float32) and the way the paper's metric does
(:func:`models.metrics.stft_magnitude`, its log magnitude and mel dB: librosa's STFT through a float64 FFT), each
first every other round.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from engine.allocator import keep_large_blocks
from engine.cores import one_blas_thread
from engine.eval.bench import p50_p99
from engine.library import DEFAULT_LIBRARY, VoiceLibrary
from engine.search_score import ScoreTarget, onset_aligned, score_renders, spectra, targets_of
from engine.takes import Take
from models.metrics import log_magnitude, mel_db, stft_magnitude
from models.render import NOTE_SECONDS, RENDER_SECONDS, SAMPLE_RATE, Renderer
from models.voice import Voice

__all__ = ["SCORE_METRICS", "VOICES", "ScoreBenchReport", "run_score_bench"]

SCORE_METRICS = ("score_ms", "score_glibc_default_ms", "spectra_ms", "spectra_metric_ms")
"""``score_ms``: one voice scored against one recording with the engine's malloc settings; ``score_glibc_default_ms``:
the same with glibc's own; ``spectra_ms``: the score's spectrograms of one render (log magnitude and mel dB, float32);
``spectra_metric_ms``: the same two through the paper metric's functions."""
VOICES = 16
"""Library voices scored in turn, spread over the default library."""

_renderer: dict[str, Renderer] = {}


def _start_worker(keep: bool) -> None:
    one_blas_thread()
    if keep:
        keep_large_blocks()
    _renderer["score"] = Renderer(SAMPLE_RATE, NOTE_SECONDS, RENDER_SECONDS)


def _timed_score(targets: list[ScoreTarget], values: tuple[int, ...]) -> float:
    voice = Voice.from_values(values)
    start = time.perf_counter()
    score_renders(_renderer["score"], voice, targets)
    return (time.perf_counter() - start) * 1000.0


def _timed_spectra(values: tuple[int, ...], metric_first: bool) -> tuple[float, float]:
    audio = onset_aligned(_renderer["score"].render(Voice.from_values(values), 60, 85), SAMPLE_RATE)

    def ours() -> None:
        spectra(audio, SAMPLE_RATE)

    def metric() -> None:
        magnitude = stft_magnitude(audio)
        mel_db(magnitude, SAMPLE_RATE)
        log_magnitude(magnitude)

    elapsed = {}
    for subject in (metric, ours) if metric_first else (ours, metric):
        start = time.perf_counter()
        subject()
        elapsed[subject] = (time.perf_counter() - start) * 1000.0
    return elapsed[ours], elapsed[metric]


@dataclass
class ScoreBenchReport:
    """p50/p99 per metric (:data:`SCORE_METRICS`) and the rounds.

    Attributes:
        metrics: metric -> {"p50", "p99"} in ms.
        iterations: timed rounds (after warm-up).
        kept: whether the engine's settings took hold in their worker (glibc only; ``False``: both ran glibc's own).
    """

    metrics: dict[str, dict[str, float]]
    iterations: int
    kept: bool

    @property
    def speedup_p50(self) -> float:
        """glibc's defaults' p50 over the engine's settings'."""
        return round(self.metrics["score_glibc_default_ms"]["p50"] / self.metrics["score_ms"]["p50"], 3)

    @property
    def spectra_speedup_p50(self) -> float:
        """The paper metric's spectrograms' p50 over the score's."""
        return round(self.metrics["spectra_metric_ms"]["p50"] / self.metrics["spectra_ms"]["p50"], 3)

    def to_json(self) -> dict[str, Any]:
        """``{"metrics": {NAME: {"p50", "p99"}}, "speedup_p50": x, "spectra_speedup_p50": y, "kept": bool,
        "iterations": n}``."""
        return {"metrics": self.metrics, "speedup_p50": self.speedup_p50, "spectra_speedup_p50": self.spectra_speedup_p50,
                "kept": self.kept, "iterations": self.iterations}

    def table(self) -> str:
        """The figures as a plain-text table."""
        rows = [f"{'one score':<24}{'p50 ms':>10}{'p99 ms':>10}"]
        rows += [f"{name.removesuffix('_ms'):<24}{values['p50']:>10.3f}{values['p99']:>10.3f}"
                 for name, values in self.metrics.items()]
        setting = "large blocks kept" if self.kept else "NOT set here (not glibc?): both ran glibc's defaults"
        rows.append(f"glibc's defaults p50 / the engine's ({setting}) p50 = {self.speedup_p50:.2f}x; "
                    f"{self.iterations} rounds, one process each")
        rows.append(f"the paper metric's spectrograms p50 / the score's p50 = {self.spectra_speedup_p50:.2f}x "
                    "(the engine's process)")
        return "\n".join(rows)


def run_score_bench(*, iterations: int = 100, warmup: int = 10, progress: bool = True) -> ScoreBenchReport:
    """Time one score in two worker processes, the engine's malloc settings against glibc's, and the score's
    spectrograms against the paper metric's (the module's description).

    Args:
        iterations: timed rounds.
        warmup: untimed rounds first (the first scores load SciPy's FFT plans and the mel filters).
        progress: show a progress bar on stderr.
    """
    library = VoiceLibrary.load(DEFAULT_LIBRARY)
    voices = [library.voices[i * len(library) // VOICES] for i in range(VOICES)]
    recording = Renderer(SAMPLE_RATE, NOTE_SECONDS, RENDER_SECONDS).render(voices[0], 60, 85)
    targets = targets_of([Take(recording, SAMPLE_RATE, 60, 85)], SAMPLE_RATE)
    context = multiprocessing.get_context("forkserver")
    scored, spectra_timed = SCORE_METRICS[:2], SCORE_METRICS[2:]
    pools = {name: ProcessPoolExecutor(1, mp_context=context, initializer=_start_worker, initargs=(keep,))
             for name, keep in zip(scored, (True, False), strict=True)}
    samples: dict[str, list[float]] = {name: [] for name in SCORE_METRICS}
    try:
        kept = pools["score_ms"].submit(keep_large_blocks).result()  # set already: True again where it holds
        for round_number in tqdm(range(warmup + iterations), desc="score bench rounds", unit="round",
                                 disable=not progress):
            values = voices[round_number % VOICES].values
            for name in scored[:: 1 if round_number % 2 else -1]:  # each goes first every other round
                elapsed = pools[name].submit(_timed_score, targets, values).result()
                if round_number >= warmup:
                    samples[name].append(elapsed)
            timed = pools["score_ms"].submit(_timed_spectra, values, bool(round_number % 2)).result()
            if round_number >= warmup:
                for name, elapsed in zip(spectra_timed, timed, strict=True):
                    samples[name].append(elapsed)
    finally:
        for pool in pools.values():
            pool.shutdown(cancel_futures=True)
    return ScoreBenchReport({name: p50_p99(values) for name, values in samples.items()}, iterations, kept)
