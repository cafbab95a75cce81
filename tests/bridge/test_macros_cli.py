"""``dexbridge macros`` at CI size on the bundled brass bank: names measured and stored, sweeps that keep the structure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from daemon_harness import checkpoint_with_axes

from bridge.commands.cli import main
from engine.eval.macros import DESCRIPTORS
from engine.macro_table import MOVED
from models.checkpoint import load_checkpoint
from models.voice import Voice


def test_names_are_measured_stored_and_the_axes_turned(brass_path: Path, tiny_checkpoint: Path, brass_voices: list[Voice],
                                                        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    checkpoint = checkpoint_with_axes(tiny_checkpoint, brass_voices, tmp_path / "axes.pt", count=3)
    before = load_checkpoint(checkpoint).latent_axes
    assert before is not None and before.names == ("macro 1", "macro 2", "macro 3")
    out = tmp_path / "macros.json"
    assert main(["macros", "--corpus", str(brass_path), "--voices", "6", "--sweeps", "1", "--checkpoint", str(checkpoint),
                 "--backend", "torch", "--write", "--json", str(out), "-q"]) == 0
    report = json.loads(out.read_text())
    assert report["voices"] == 6 and report["swept"] == 1 and len(report["axes"]) == 3
    names = [axis["name"] for axis in report["axes"]]
    assert len(set(names)) == 3 and all(name.split(",")[0] in DESCRIPTORS for name in names)
    for axis in report["axes"]:
        assert axis["structure_kept"] and 0 < axis["most_changed"] <= MOVED
        assert 0 < axis["steps"]["median"] <= axis["steps"]["max"] and axis["steps"]["max_over_median"] >= 1.0
    after = load_checkpoint(checkpoint).latent_axes
    assert after is not None and list(after.names) == names
    signs = [axis["sign"] for axis in report["axes"]]
    np.testing.assert_array_equal(after.components, before.components * np.array(signs, np.float32)[:, None])
    table = capsys.readouterr().out
    assert f"| 0 | {names[0]} |" in table and "names stored in" in table
