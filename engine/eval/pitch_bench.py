"""``dexbridge bench --pitch``: what one pitch measurement costs the search, part by part.

The search tunes every voice it keeps by measuring its pitch (:func:`engine.pitch.voice_f0`): a 1 s render at
the reference note, the partials tracker (:func:`engine.pitch.estimate_f0`) and, where the render's loudest
partial is not its fundamental, the neural check (:func:`engine.neural_pitch.neural_f0`: CREPE on 8 frames).
The search reads the voices it tries quickly (``checked=False``: held still, :func:`engine.pitch.held_still`,
off one spectrum, unchecked); that reading is timed beside the whole one, on the voice and on the voice with
an LFO vibrato. Each part is timed on its own, on one thread as a render worker runs
it, in interleaved rounds (every metric once a round, then the next round), with CREPE's network timed in ONNX
Runtime (the engine's path) and in eager torch (the fallback) in the same rounds, so the ratios hold under any
load.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from tqdm import tqdm

from engine.eval.bench import p50_p99, timed_once
from engine.neural_pitch import check_frames, eager_network, network, neural_f0
from engine.pitch import estimate_f0, pitch_renderer, voice_f0
from models.params import BY_NAME
from models.render import SAMPLE_RATE
from models.representations import DEFAULT_TEMPLATE
from models.voice import Voice

__all__ = ["PITCH_METRICS", "VIBRATO", "PitchBenchReport", "run_pitch_bench"]

PITCH_METRICS = ("voice_pitch_ms", "render_ms", "partials_ms", "neural_check_ms", "crepe_network_ms",
                 "crepe_eager_ms", "quick_pitch_ms", "vibrato_pitch_ms", "vibrato_quick_ms")
"""``voice_pitch_ms``: a whole measurement of a voice whose loudest partial is its fundamental (render and partials
tracker, no neural check); ``neural_check_ms``: the neural check of its render (resampling, framing, the network,
decoding); ``crepe_network_ms`` / ``crepe_eager_ms``: the network alone on the check's frames, in the engine's
runtime and in eager torch; ``quick_pitch_ms``: the search's quick reading of the voice (render held still,
one spectrum); ``vibrato_pitch_ms`` / ``vibrato_quick_ms``: a whole measurement of the voice with an LFO vibrato
(:data:`VIBRATO`: its vibrato tracked frame by frame) and its quick reading."""
VIBRATO = {"lfo_pm_depth": 40, "pitch_mod_sens": 4, "lfo_speed": 35}
"""The vibrato given to the measured voice for the vibrato metrics: about +-80 cents at 5.8 Hz."""


@dataclass
class PitchBenchReport:
    """p50/p99 per metric (:data:`PITCH_METRICS`), the rounds, and what CREPE's network ran in.

    Attributes:
        metrics: metric -> {"p50", "p99"} in ms.
        iterations: timed rounds (after warm-up).
        runtime: what the engine's CREPE network runs in here (``"onnx"``, or ``"eager"`` without ONNX Runtime).
        frames: the frames one neural check reads.
    """

    metrics: dict[str, dict[str, float]]
    iterations: int
    runtime: str
    frames: int

    @property
    def quick_speedup_p50(self) -> float:
        """The vibrato voice: its whole measurement's p50 over its quick reading's."""
        return round(self.metrics["vibrato_pitch_ms"]["p50"] / self.metrics["vibrato_quick_ms"]["p50"], 3)

    @property
    def crepe_speedup_p50(self) -> float:
        """Eager torch's network p50 over the engine's."""
        return round(self.metrics["crepe_eager_ms"]["p50"] / self.metrics["crepe_network_ms"]["p50"], 3)

    def to_json(self) -> dict[str, Any]:
        """``{"metrics": {NAME: {"p50", "p99"}}, "crepe_runtime": ..., "crepe_frames": n, "crepe_speedup_p50": x,
        "quick_speedup_p50": y, "iterations": n}``."""
        return {"metrics": self.metrics, "crepe_runtime": self.runtime, "crepe_frames": self.frames,
                "crepe_speedup_p50": self.crepe_speedup_p50, "quick_speedup_p50": self.quick_speedup_p50,
                "iterations": self.iterations}

    def table(self) -> str:
        """The figures as a plain-text table."""
        rows = [f"{'pitch measurement':<20}{'p50 ms':>10}{'p99 ms':>10}"]
        rows += [f"{name.removesuffix('_ms'):<20}{values['p50']:>10.3f}{values['p99']:>10.3f}"
                 for name, values in self.metrics.items()]
        rows.append(f"CREPE's network ({self.frames} frames) in {self.runtime}: eager torch p50 / {self.runtime} p50 = "
                    f"{self.crepe_speedup_p50:.2f}x; {self.iterations} rounds, one thread")
        rows.append(f"a voice with vibrato: whole measurement p50 / the search's quick reading p50 = "
                    f"{self.quick_speedup_p50:.2f}x")
        return "\n".join(rows)


def run_pitch_bench(*, iterations: int = 100, warmup: int = 10, voice: Voice = DEFAULT_TEMPLATE,
                    progress: bool = True) -> PitchBenchReport:
    """Time a pitch measurement of ``voice`` part by part (see the module's description), on one thread.

    Args:
        iterations: timed rounds.
        warmup: untimed rounds first (the network's first call builds or loads it).
        voice: the voice measured (the default template: one sine carrier, its loudest partial its fundamental).
        progress: show a progress bar on stderr.
    """
    from threadpoolctl import threadpool_limits

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a render worker runs it
    try:
        with threadpool_limits(1, user_api="blas"):
            return _run(iterations, warmup, voice, progress)
    finally:
        torch.set_num_threads(previous_threads)


def _run(iterations: int, warmup: int, voice: Voice, progress: bool) -> PitchBenchReport:
    renderer = pitch_renderer(SAMPLE_RATE)  # the model rate, as the search measures
    audio = renderer.render(voice, 60, 85)
    frames = check_frames(audio, renderer.sample_rate)
    if frames is None:
        raise ValueError(f"the voice {voice.name.strip()!r} is silent: nothing to measure")
    engine_network, eager = network(), eager_network()
    vibrato = voice.replace({BY_NAME[name].index: value for name, value in VIBRATO.items()})
    probes = {
        "voice_pitch_ms": timed_once(lambda: voice_f0(voice, renderer)),
        "render_ms": timed_once(lambda: renderer.render(voice, 60, 85)),
        "partials_ms": timed_once(lambda: estimate_f0(audio, renderer.sample_rate)),
        "neural_check_ms": timed_once(lambda: neural_f0(audio, renderer.sample_rate)),
        "crepe_network_ms": timed_once(lambda: engine_network(frames)),
        "crepe_eager_ms": timed_once(lambda: eager(frames)),
        "quick_pitch_ms": timed_once(lambda: voice_f0(voice, renderer, checked=False)),
        "vibrato_pitch_ms": timed_once(lambda: voice_f0(vibrato, renderer)),
        "vibrato_quick_ms": timed_once(lambda: voice_f0(vibrato, renderer, checked=False)),
    }
    samples: dict[str, list[float]] = {name: [] for name in probes}
    for round_number in tqdm(range(warmup + iterations), desc="pitch bench rounds", unit="round", disable=not progress):
        for name, probe in probes.items():
            elapsed = probe()
            if round_number >= warmup:
                samples[name] += elapsed
    metrics = {name: p50_p99(values) for name, values in samples.items()}
    return PitchBenchReport(metrics, iterations, "eager" if engine_network is eager else "onnx", len(frames))
