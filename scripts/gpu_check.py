"""The GPU check's steps, run by ``scripts/gpu_check.sh`` once torch and the project are installed.

Each step is a dexbridge command or pytest run in a subprocess, its output appended to
OUTDIR/gpu_check.log, its outcome and time to OUTDIR/gpu_check.json:

1. environment: python, torch (its CUDA build), the device, ``nvidia-smi``;
2. agreement: the backend agreement tests (``tests/engine/test_backends.py``: every backend that runs
   here against eager torch, CUDA included on a GPU; ``tests/engine/test_latent_decoder.py``);
3. bench: ``dexbridge bench --backend cuda torch`` on the shipped checkpoint (audio -> voice, latent
   -> voice, the paper's architecture eager in the same run);
4. dataset: a small corpus (the brass bank and seeded variations of it) rendered by
   ``dexbridge dataset render``;
5. train: ``dexbridge train --device cuda --max-steps N`` on it (``--cpu``: the tiny config on the CPU).

    python scripts/gpu_check.py OUTDIR [--cpu] [--voices N] [--steps N] [--batch N] [--iterations N] [--threads N]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
AGREEMENT_TESTS = ("tests/engine/test_backends.py", "tests/engine/test_latent_decoder.py")
GPU_AUDIO_TO_VOICE_P99_MS = 2.0  # the goal for audio -> voice on a GPU
VARIATION_STEPS = 6  # how far (in steps) a variation moves each parameter of its brass voice, at most


class Check:
    """The run's log, its steps' outcomes and its time budget."""

    def __init__(self, out: Path, budget_s: float, env: dict[str, str]) -> None:
        self.out = out
        self.log = (out / "gpu_check.log").open("a", encoding="utf-8")
        self.deadline = time.monotonic() + budget_s
        self.env = env
        self.steps: dict[str, dict[str, Any]] = {}

    def run(self, step: str, command: list[str], *, cwd: Path = REPO) -> bool:
        """Run one command as (part of) ``step``; its output goes to the log. False when it failed."""
        left = self.deadline - time.monotonic()
        record = self.steps.setdefault(step, {"ok": True, "seconds": 0.0, "commands": []})
        self.log.write(f"\n=== {step}: {' '.join(command)}\n")
        self.log.flush()
        started = time.monotonic()
        try:
            done = subprocess.run(command, cwd=cwd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                  timeout=max(left, 1.0), check=False)
            code: int | str = done.returncode
        except subprocess.TimeoutExpired:
            code = "timeout: the check's time budget ran out"
        seconds = time.monotonic() - started
        record["seconds"] = round(record["seconds"] + seconds, 2)
        record["commands"].append({"command": command, "returncode": code, "seconds": round(seconds, 2)})
        ok = code == 0
        record["ok"] = record["ok"] and ok
        self.log.write(f"=== {step}: {'ok' if ok else f'FAILED ({code})'} in {seconds:.1f} s\n")
        self.log.flush()
        return ok


def _environment(check: Check, device: str) -> dict[str, Any]:
    probe = ("import json, torch; print(json.dumps({'torch': torch.__version__, 'cuda_build': torch.version.cuda, "
             "'cuda_available': torch.cuda.is_available(), 'gpu': torch.cuda.get_device_name(0) "
             "if torch.cuda.is_available() else None}))")
    found = subprocess.run([sys.executable, "-c", probe], env=check.env, capture_output=True, text=True, check=True)
    info: dict[str, Any] = json.loads(found.stdout)
    smi = subprocess.run(["nvidia-smi"], capture_output=True, text=True, check=False) if _has("nvidia-smi") else None
    check.log.write(f"=== environment\n{json.dumps(info)}\n{smi.stdout if smi else 'nvidia-smi: not found'}\n")
    return {**info, "device": device, "python": platform.python_version(), "cpus": os.cpu_count(),
            "load_average": os.getloadavg(), "nvidia_smi": smi is not None}


def _has(program: str) -> bool:
    return any((Path(folder) / program).is_file() for folder in os.environ.get("PATH", "").split(os.pathsep))


def _agreement(check: Check, device: str) -> dict[str, Any]:
    report = check.out / "agreement.xml"
    check.run("agreement", [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                            f"--basetemp={check.out / 'work' / 'pytest'}", *AGREEMENT_TESTS])
    if not report.is_file():
        return {}
    cases = ElementTree.parse(report).getroot().iter("testcase")
    outcomes = {f"{case.get('classname')}::{case.get('name')}": _outcome(case) for case in cases}
    counts = {kind: sum(1 for o in outcomes.values() if o == kind) for kind in ("passed", "failed", "skipped")}
    cuda = [name for name in outcomes if "[cuda" in name]
    result = {**counts, "cuda_tests": len(cuda), "cuda_passed": sum(outcomes[name] == "passed" for name in cuda)}
    if device == "cuda" and (not cuda or result["cuda_passed"] != len(cuda)):
        check.steps["agreement"]["ok"] = False  # on a GPU the CUDA backend must have run, and agreed
    return result


def _outcome(case: ElementTree.Element) -> str:
    if case.find("failure") is not None or case.find("error") is not None:
        return "failed"
    return "skipped" if case.find("skipped") is not None else "passed"


def _bench(check: Check, iterations: int, threads: int | None) -> dict[str, Any]:
    out = check.out / "bench.json"
    check.run("bench", [sys.executable, "-m", "bridge.commands.cli", "bench", "--backend", "cuda", "torch",
                        "--iterations", str(iterations), "--warmup", str(max(1, iterations // 10)), "--json", str(out),
                        *(["--threads", str(threads)] if threads else [])])
    if not out.is_file():
        return {}
    report: dict[str, Any] = json.loads(out.read_text())
    cuda = report["backends"].get("cuda")
    report["gpu_audio_to_voice_p99_target_met"] = (None if cuda is None else
                                                    cuda["audio_to_voice_ms"]["p99"] <= GPU_AUDIO_TO_VOICE_P99_MS)
    return report


def _variations(count: int, seed: int = 0) -> list[Any]:
    """``count`` distinct voices: the brass bank's, then seeded variations of them (every learnable
    parameter moved a few steps, clamped into range), which still sound like instruments."""
    from bridge.commands.voices import bundled_bank_path
    from bridge.midi.syxfile import read_syx_voices
    from models.params import LEARNABLE, NAME_START
    from models.voice import Voice

    bank = [item.voice for item in read_syx_voices(bundled_bank_path("brass")).voices]
    rng = np.random.default_rng(seed)
    voices = {voice.values[:NAME_START]: voice for voice in bank}  # the bank repeats voices under other names
    while len(voices) < count:
        values = list(bank[len(voices) % len(bank)].values)
        for spec in LEARNABLE:
            values[spec.index] += int(rng.integers(-VARIATION_STEPS, VARIATION_STEPS + 1))
        voice = Voice.clamped(values)[0].with_name(f"VAR {len(voices):05d}")
        voices.setdefault(voice.values[:NAME_START], voice)
    return list(voices.values())[:count]


def _dataset(check: Check, voices: int, work: Path) -> Path:
    from bridge.midi.syxfile import write_bank_syx

    banks = work / "banks"
    banks.mkdir(parents=True, exist_ok=True)
    made = _variations(voices)
    for number, start in enumerate(range(0, len(made), 32)):
        chunk = made[start : start + 32]
        write_bank_syx(banks / f"bank{number:03d}.syx", chunk + chunk[-1:] * (32 - len(chunk)))
    corpus, dataset = work / "corpus.sqlite", work / "dataset"
    cli = [sys.executable, "-m", "bridge.commands.cli"]
    if check.run("dataset", [*cli, "corpus", "build", str(banks), "--out", str(corpus)]):
        check.run("dataset", [*cli, "dataset", "render", str(corpus), "--out", str(dataset), "--overwrite"])
    return dataset


def _train(check: Check, dataset: Path, work: Path, device: str, steps: int, config: Path, batch: int) -> dict[str, Any]:
    run_config = work / "train.toml"
    run_config.write_text(f'include = "{config.resolve()}"\n\n[train]\nbatch_size = {batch}\n', encoding="utf-8")
    run = work / "run"
    started = time.monotonic()
    ok = check.run("train", [sys.executable, "-m", "bridge.commands.cli", "train", "--config", str(run_config),
                             "--dataset", str(dataset), "--out", str(run), "--device", device, "--max-steps", str(steps),
                             "--epochs", "100000"])
    seconds = time.monotonic() - started
    log = run / "train_log.csv"
    rows = list(csv.DictReader(log.open(encoding="utf-8"))) if log.is_file() else []
    losses = [float(row["train/loss/total"]) for row in rows if row.get("train/loss/total")]
    return {"ok": ok, "device": device, "config": str(config), "batch_size": batch, "steps": steps,
            "seconds": round(seconds, 2), "steps_per_second": round(steps / seconds, 2) if ok else None,
            "epochs_logged": len(rows), "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None}


def main() -> int:
    """Run every step; 0 when all passed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for gpu_check.json, gpu_check.log and the work files")
    parser.add_argument("--cpu", action="store_true", help="run every check on the CPU (CUDA hidden)")
    parser.add_argument("--voices", type=int, default=1024, help="voices in the training set (default 1024)")
    parser.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    parser.add_argument("--batch", type=int, default=16, help="training batch size (default 16)")
    parser.add_argument("--iterations", type=int, default=200, help="bench rounds (default 200)")
    parser.add_argument("--threads", type=int, default=None, help="the bench's torch threads (default: every core)")
    parser.add_argument("--train-config", type=Path, default=None,
                        help="model to train (default configs/default.toml; with --cpu configs/tiny.toml)")
    parser.add_argument("--budget-s", type=float, default=480.0, help="time for all the steps (default 480 s)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    device = "cpu" if args.cpu else "cuda"
    env = {**os.environ, **({"CUDA_VISIBLE_DEVICES": ""} if args.cpu else {})}
    check = Check(args.out, args.budget_s, env)
    started = time.monotonic()
    config = args.train_config or REPO / "configs" / ("tiny.toml" if args.cpu else "default.toml")
    result: dict[str, Any] = {"device": device, "environment": _environment(check, device)}
    if device == "cuda" and not result["environment"]["cuda_available"]:
        check.steps["environment"] = {"ok": False, "error": "torch sees no CUDA device: run with --cpu, or fix the driver"}
    work = args.out / "work"
    work.mkdir(exist_ok=True)  # the agreement tests' pytest folder lands there too
    result["agreement"] = _agreement(check, device)
    result["bench"] = _bench(check, args.iterations, args.threads)
    dataset = _dataset(check, args.voices, work)
    result["train"] = _train(check, dataset, work, device, args.steps, config, args.batch) if check.steps["dataset"]["ok"] else {}
    result["steps"] = check.steps
    result["ok"] = all(step["ok"] for step in check.steps.values())
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    (args.out / "gpu_check.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    check.log.write(f"\n=== gpu check {'passed' if result['ok'] else 'FAILED'} in {result['elapsed_s']} s: "
                    f"{args.out / 'gpu_check.json'}\n")
    check.log.close()
    print(f"gpu check {'passed' if result['ok'] else 'FAILED'} ({device}, {result['elapsed_s']} s): {args.out / 'gpu_check.json'}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
