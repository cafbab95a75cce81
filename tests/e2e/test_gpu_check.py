"""``scripts/gpu_check.sh --cpu`` runs every check it can on the CPU, at toy sizes, and writes its
JSON and log; without --cpu on a machine without an NVIDIA driver it refuses before installing anything."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu_check.sh"
STEPS = {"agreement", "bench", "dataset", "train"}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=280, check=False,
                          env={**os.environ, "PYTHON": sys.executable})


def test_the_cpu_run_passes_every_check_and_reports_them(tmp_path: Path) -> None:
    out = tmp_path / "check"
    done = _run(str(out), "--cpu", "--voices", "96", "--steps", "6", "--batch", "4", "--iterations", "2", "--threads", "1")
    log = (out / "gpu_check.log").read_text()
    assert done.returncode == 0, log[-4000:]
    assert "gpu check passed (cpu, " in done.stdout and str(out / "gpu_check.json") in done.stdout
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["ok"] and report["device"] == "cpu" and report["environment"]["cuda_available"] is False
    assert set(report["steps"]) == STEPS and all(step["ok"] for step in report["steps"].values())
    assert report["agreement"]["failed"] == 0 and report["agreement"]["passed"] >= 20
    bench = report["bench"]
    assert set(bench["backends"]) == {"torch"} and "no CUDA device" in bench["skipped"]["cuda"]
    assert bench["baseline_paper_eager"]["audio_to_voice_ms"]["p50"] > 0 and "sweep_step_ms" in bench["engine_decode"]
    assert bench["gpu_audio_to_voice_p99_target_met"] is None  # no GPU, no verdict
    train = report["train"]
    assert train["ok"] and train["steps"] == 6 and train["device"] == "cpu" and math.isfinite(train["last_loss"])
    for step in STEPS:
        assert f"=== {step}: " in log
    assert "gpu check passed" in log


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="an NVIDIA driver is installed here")
def test_without_cpu_and_without_a_driver_it_installs_nothing(tmp_path: Path) -> None:
    done = _run(str(tmp_path / "check"))
    assert done.returncode == 2
    assert "no NVIDIA driver (nvidia-smi not found): run with --cpu" in done.stderr


def test_usage() -> None:
    done = _run("--cpu")
    assert done.returncode == 2 and "usage:" in done.stderr
