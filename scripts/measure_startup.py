"""How long until the command line speaks? Wall time of ``dexbridge ... --help`` and of an argument
error, each a fresh process as a user starts it (the console script next to this Python), p50 and p90.

    python scripts/measure_startup.py            # 15 runs each; the target is p50 < 300 ms
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from models.dsp import percentiles

CASES = (
    ("--help",),
    ("infer", "--help"),
    ("serve", "--help"),
    ("send", "--help"),
    ("demo", "--help"),
    ("voices", "--help"),
    ("eval", "--help"),
    ("infer",),  # an argument error: no AUDIO, no --out
)
TARGET_MS = 300.0


def wall_ms(command: list[str]) -> float:
    """Milliseconds from start to exit of one run (its output discarded)."""
    began = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return (time.perf_counter() - began) * 1000


def main() -> None:
    """Print one line per case."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per case (default 15)")
    args = parser.parse_args()
    program = Path(sys.executable).parent / "dexbridge"
    if not program.exists():
        raise SystemExit(f"{program} not found: install the project (make venv) and run this with {sys.executable}")
    wall_ms([str(program), "--help"])  # the first run fills the file cache
    for case in CASES:
        times = [wall_ms([str(program), *case]) for _ in range(args.runs)]
        p50, p90 = percentiles(times, (50,))["p50"], percentiles(times, (90,), method="lower")["p90"]
        verdict = "ok" if p50 < TARGET_MS else f"over {TARGET_MS:.0f} ms"
        print(f"dexbridge {' '.join(case):<16} p50 {p50:6.0f} ms  p90 {p90:6.0f} ms  ({args.runs} runs, {verdict})")


if __name__ == "__main__":
    main()
