"""No MIDI message is lost or changed at the JACK periods performers run (64, 128, 256, 1 024 frames),
under load: ``scripts/measure_midi_loss.py`` starts a dummy JACK server per period and counts every
message of each burst the daemon sends (a voice as 155 changes, 930 changes, 32 voice dumps, a
4 104-byte bank dump) through our output port into our input port, busy Python threads beside.
The servers run real-time, as performers run JACK (without, on an overloaded machine, late
cycles corrupt MIDI whatever the client does: see the script's docstring)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.midi.jack_server import PERIODS

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "measure_midi_loss.py"


def test_every_message_arrives_at_every_jack_period_under_load(jack: str) -> None:
    run = subprocess.run([sys.executable, str(SCRIPT), "--json", "--busy-threads", "2"],
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.stdout.strip(), f"no result: {run.stderr[-2000:]}"
    table = json.loads(run.stdout.strip().splitlines()[-1])
    assert sorted(map(int, table)) == sorted(PERIODS)
    for period, bursts in table.items():
        assert "bank dump (4 104 B)" in bursts
        for label, counts in bursts.items():
            assert counts["ours"] == {"got": counts["sent"], "lost": 0, "extra": 0}, \
                f"{period} frames, {label}: {counts}; {run.stderr[-1000:]}"
    assert run.returncode == 0, run.stderr[-2000:]


def test_a_long_jack_server_name_is_refused_before_jackd_starts() -> None:
    from bridge.midi.jack_server import dummy_jack_server

    with pytest.raises(ValueError, match="over 16 characters"), dummy_jack_server(64, name="x" * 17):
        pass
