"""``dexbridge bench`` writes the documented JSON schema (no timing assertions: speed is for the
benchmark itself, not for tests)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bridge.commands.cli import main
from engine.backends import BACKENDS, unavailable_reason

PERCENTILES = {"p50", "p99"}
BACKEND_METRICS = {"audio_to_voice_ms", "latent_to_voice_ms", "sweep_step_ms", "frontend_ms", "encoder_ms", "flows_ms",
                   "decode_ms"}


def _check_metric(values: dict[str, float]) -> None:
    assert set(values) == PERCENTILES
    assert 0 < values["p50"] <= values["p99"]


def test_bench_writes_the_schema(tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    checkpoint = Path(shutil.copy(tiny_checkpoint, tmp_path / "tiny.pt"))  # the ONNX cache lands in tmp_path
    out = tmp_path / "bench.json"
    code = main(["bench", "--checkpoint", str(checkpoint), "--iterations", "3", "--warmup", "1", "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert set(report) == {"backends", "baseline_paper_eager", "engine_decode", "speedup_vs_paper_p50",
                           "latent_speedup_vs_paper_p50", "skipped"}
    runnable = {name for name in BACKENDS if unavailable_reason(name) is None}
    assert set(report["backends"]) == runnable and {"torch", "torchscript", "onnx"} <= runnable
    assert set(report["skipped"]) == set(BACKENDS) - runnable
    for metrics in report["backends"].values():
        assert set(metrics) == BACKEND_METRICS
        for values in metrics.values():
            _check_metric(values)
    assert set(report["baseline_paper_eager"]) == BACKEND_METRICS
    _check_metric(report["baseline_paper_eager"]["audio_to_voice_ms"])
    assert report["speedup_vs_paper_p50"] > 0 and report["latent_speedup_vs_paper_p50"] > 0
    assert set(report["engine_decode"]) == {"latent_to_voice_ms", "sweep_step_ms"}
    for values in report["engine_decode"].values():
        _check_metric(values)
    printed = capsys.readouterr().out
    assert "baseline_paper_eager" in printed and "speedup vs paper" in printed
    assert "engine_decode: Engine.decode's latent -> voice (compiled, on every backend)" in printed
    for name in report["backends"]:
        assert name in printed


def test_bench_names_a_backend_that_cannot_run(tiny_checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if unavailable_reason("cuda") is None:
        pytest.skip("CUDA runs here")
    code = main(["bench", "--checkpoint", str(tiny_checkpoint), "--backend", "cuda", "--iterations", "1"])
    assert code == 1  # the machine lacks what the backend needs: the environment, not the input
    assert "no backend to time runs here: cuda (no CUDA device" in capsys.readouterr().err


def test_bench_missing_checkpoint_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--checkpoint", str(tmp_path / "none.pt")]) == 2
    assert "none.pt not found" in capsys.readouterr().err


def test_bench_pitch_writes_its_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pitch.json"
    assert main(["bench", "--pitch", "--iterations", "3", "--warmup", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report) == {"metrics", "crepe_runtime", "crepe_frames", "crepe_speedup_p50", "quick_speedup_p50",
                           "iterations"}
    assert set(report["metrics"]) == {"voice_pitch_ms", "render_ms", "partials_ms", "neural_check_ms", "crepe_network_ms",
                                      "crepe_eager_ms", "quick_pitch_ms", "vibrato_pitch_ms", "vibrato_quick_ms"}
    for values in report["metrics"].values():
        _check_metric(values)
    assert report["crepe_runtime"] == "onnx" and report["crepe_frames"] == 8 and report["iterations"] == 3
    assert report["crepe_speedup_p50"] == pytest.approx(report["metrics"]["crepe_eager_ms"]["p50"]
                                                        / report["metrics"]["crepe_network_ms"]["p50"], rel=1e-2)
    assert report["quick_speedup_p50"] == pytest.approx(report["metrics"]["vibrato_pitch_ms"]["p50"]
                                                        / report["metrics"]["vibrato_quick_ms"]["p50"], rel=1e-2)
    printed = capsys.readouterr().out
    assert "CREPE's network (8 frames) in onnx: eager torch p50 / onnx p50 = " in printed and "x; 3 rounds" in printed
    assert "a voice with vibrato: whole measurement p50 / the search's quick reading p50 = " in printed


def test_bench_score_times_the_engines_malloc_settings_against_glibcs_and_its_spectra_against_the_metrics(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "score.json"
    assert main(["bench", "--score", "--iterations", "4", "--warmup", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report) == {"metrics", "speedup_p50", "spectra_speedup_p50", "kept", "iterations"}
    assert set(report["metrics"]) == {"score_ms", "score_glibc_default_ms", "spectra_ms", "spectra_metric_ms"}
    assert report["spectra_speedup_p50"] == pytest.approx(report["metrics"]["spectra_metric_ms"]["p50"]
                                                          / report["metrics"]["spectra_ms"]["p50"], rel=1e-2)
    for values in report["metrics"].values():
        _check_metric(values)
    assert report["kept"] is True and report["iterations"] == 4  # glibc here, as in CI
    assert report["speedup_p50"] == pytest.approx(report["metrics"]["score_glibc_default_ms"]["p50"]
                                                  / report["metrics"]["score_ms"]["p50"], rel=1e-2)
    printed = capsys.readouterr().out
    assert "glibc's defaults p50 / the engine's (large blocks kept) p50 = " in printed
    assert "the paper metric's spectrograms p50 / the score's p50 = " in printed


def test_bench_pitch_and_bridge_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--pitch", "--bridge"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
