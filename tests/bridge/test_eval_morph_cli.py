"""``dexbridge eval-morph`` at CI size on the bundled brass bank: the table, the JSON, the picture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from daemon_harness import checkpoint_with_axes

from bridge.commands.cli import main
from engine.eval.morph_runs import distinct_sounds, draw
from models.errors import EvaluationError
from models.voice import Voice

PARTS = {"line", "pad edges", "pad diagonals", "macro"}


def test_a_small_run_on_the_brass_bank(brass_path: Path, tiny_checkpoint: Path, brass_voices: list[Voice],
                                       tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, picture = tmp_path / "morph.json", tmp_path / "strip.png"
    checkpoint = checkpoint_with_axes(tiny_checkpoint, brass_voices, tmp_path / "axes.pt")
    assert main(["eval-morph", "--corpus", str(brass_path), "--pairs", "2", "--quads", "1", "--steps", "5", "--macros", "2",
                 "--checkpoint", str(checkpoint), "--backend", "torch", "--json", str(out), "--plot", str(picture),
                 "--plot-pairs", "1", "--quiet"]) == 0
    report = json.loads(out.read_text())
    assert set(report["summary"]) == {"planned", "latent", "naive", "table"} and report["steps"] == 5
    for method in ("planned", "latent", "naive"):
        parts = report["summary"][method]
        assert set(parts) == (PARTS if method == "naive" else PARTS - {"macro"}), method
        assert parts["line"]["paths"] == 2 and parts["pad edges"]["paths"] == 4 and parts["pad diagonals"]["paths"] == 2
        assert parts["line"]["ends_exact"] == parts["pad edges"]["ends_exact"] == 1.0
        assert all(len(path["steps"]) == 4 for path in report["paths"][method]["line"])
    for method in ("table", "naive"):  # the daemon's macro moves, and naive interpolation to the same ends
        assert report["summary"][method]["macro"]["paths"] == 2 and report["summary"][method]["macro"]["ends_exact"] == 1.0
    assert set(report["plan_ms"]) == {"line", "pad"} and report["plan_ms"]["line"]["plans"] == 2
    assert len(report["pairs"]) == 2 and len(report["quads"]) == 1 and str(brass_path) in report["source"]
    table = capsys.readouterr().out
    assert "| planned, line | 2 |" in table and "x naive)" in table and "| naive, pad diagonals | 2 |" in table
    assert "| table, macro | 2 |" in table
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_methods_are_checked_and_the_model_loads_only_for_the_latent_line_and_the_macros(brass_path: Path, tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["eval-morph", "--corpus", str(brass_path), "--methods", "planned,spline"])
    assert exit_info.value.code == 2 and "choose from planned, latent, naive" in capsys.readouterr().err
    out = tmp_path / "naive.json"
    assert main(["eval-morph", "--corpus", str(brass_path), "--pairs", "1", "--quads", "0", "--steps", "3",
                 "--macros", "0", "--methods", "naive", "--checkpoint", str(tmp_path / "absent.pt"), "--json", str(out),
                 "-q"]) == 0
    assert set(json.loads(out.read_text())["summary"]["naive"]) == {"line"}


def test_pairs_are_drawn_from_distinct_sounds(brass_voices: list[Voice]) -> None:
    twins = [brass_voices[0], brass_voices[0].with_name("TWIN"), brass_voices[1]]
    assert distinct_sounds(twins) == [brass_voices[0], brass_voices[1]]
    assert draw(brass_voices, 3, 2, seed=1) == draw(brass_voices, 3, 2, seed=1)
    assert all(len(set(pair)) == 2 for pair in draw(brass_voices, 20, 2, seed=2))
    with pytest.raises(EvaluationError, match="2 distinct voices: a morph set needs 4"):
        draw(brass_voices[:2], 1, 4, seed=0)
