"""``dexbridge soak`` at a small size: the same code path as the 10-minute run in docs/serve.md (the
daemon as its own process on a JACK server of the soak's own, every kind of traffic, synth flaps,
checks, samples), for 20 seconds with the tiny checkpoint, at the default 256-frame period on a real-time JACK
server, as performers run it (every message at 64 frames is counted by test_midi_loss.py). A 20-second run
warms up in 4 s, before the model's caches fill: its memory bound is wider than the 10-minute run's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from daemon_harness import checkpoint_with_axes

from models.voice import Voice


def test_a_short_soak_runs_clean(jack: str, tiny_checkpoint: Path, brass_voices: list[Voice], tmp_path: Path) -> None:
    checkpoint = checkpoint_with_axes(tiny_checkpoint, brass_voices, tmp_path / "tiny_axes.pt")
    report = tmp_path / "soak.json"
    run = subprocess.run([sys.executable, "-c", "from bridge.commands.cli import main; main()", "soak", "--minutes", "0.35",
                          "--checkpoint", str(checkpoint), "--check-s", "6", "--flap-s", "7", "--sample-s", "1",
                          "--period", "256", "--realtime", "--rss-growth-mib", "64", "--json", str(report),
                          "--keep-log", str(tmp_path / "daemon.log"), "-q"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert report.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(report.read_text())
    log = (tmp_path / "daemon.log").read_text() if (tmp_path / "daemon.log").exists() else ""
    first_error = min((at for at in (log.find("Traceback"), log.find("Fatal Python error")) if at >= 0), default=len(log))
    assert result["failures"] == [], run.stdout + log[max(first_error - 300, 0):][:6000]
    assert run.returncode == 0
    assert result["checks"]["passed"] == result["checks"]["total"] >= 2
    assert result["traffic"]["flap"] >= 2 and result["traffic"]["morph"] > 1000
    for kind, tally in result["requests"].items():
        assert tally["sent"] >= 1 and tally["unanswered"] == 0, (kind, tally)
    assert "soak: " in run.stdout and "clean" in run.stdout
