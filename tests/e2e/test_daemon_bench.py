"""``dexbridge bench --bridge`` runs through the real daemon and JACK and reports every figure: control -> first MIDI
byte for the planned morph, a macro and the latent morph, the last broken down into its parts (no timing asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.harness.bridge_bench import BREAKDOWN, CONTROLS, run_bridge_bench
from engine.runtime import Engine

pytestmark = pytest.mark.jack


async def test_bridge_bench_reports_every_figure(jack: str, tiny_engine: Engine, brass_path: Path) -> None:
    report = await run_bridge_bench(tiny_engine, str(brass_path), iterations=6, rate_hz=500.0, seconds=0.5)
    assert list(report.control_to_first_midi_ms) == list(CONTROLS)
    assert all(figures["n"] == 6 for figures in report.control_to_first_midi_ms.values())  # each round moved the voice
    assert report.snippet_to_first_voice_ms["n"] == report.snippet_to_final_voice_ms["n"] == 3
    assert report.snippet_to_first_voice_ms["p50"] <= report.snippet_to_final_voice_ms["p50"]
    assert report.decode_baseline_ms["n"] == 6
    for figures in (*report.control_to_first_midi_ms.values(), report.snippet_to_first_voice_ms, report.snippet_to_final_voice_ms,
                    report.decode_baseline_ms, *report.control_breakdown_ms.values()):
        assert 0 < figures["p50"] <= figures["p99"] <= figures["max"]
    assert list(report.control_breakdown_ms) == list(BREAKDOWN)  # every round passed every part, in order
    assert all(figures["n"] == 6 for figures in report.control_breakdown_ms.values())
    decoding = report.control_to_first_midi_ms[CONTROLS[2]]
    assert sum(figures["max"] for figures in report.control_breakdown_ms.values()) >= decoding["max"] * 0.999
    sustained = report.sustained
    assert sustained["sent"] == 250 and sustained["lost"] == 0 and sustained["final_ok"] == 1.0
    assert sustained["voices"] >= 1
    table = report.table()
    assert all(f"  {name}" in table for name in CONTROLS) and "sustained 500 msgs/s for 0.5 s: 250 sent, 0 lost" in table
    assert all(f"    {part.replace('_', ' ')}" in table for part in BREAKDOWN)
    assert report.to_json()["backend"] == "torch"
