"""The README and the manual (docs/): short front door, links that resolve, defaults quoted from the code, and
nothing that points outside the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from bridge.commands.eval_audio import register as register_eval_audio
from bridge.commands.search_options import INFER_RENDERS
from bridge.daemon.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))


def _thousands(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def test_the_readme_is_a_front_door() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    first_screen = "\n".join(text.splitlines()[:40])
    assert "dexbridge infer" in first_screen and "make run" in first_screen and "make test" in first_screen


def test_the_readme_names_the_debian_packages_the_makefile_installs() -> None:
    packages = re.search(r"^APT_PACKAGES := (.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE).group(1).split()
    setup = README.read_text(encoding="utf-8").split("## Set up and run", 1)[1].split("\n## ", 1)[0]
    named = re.findall(r"`([a-z0-9][a-z0-9.+-]+)`", setup.split("Debian packages", 1)[1].split("when run", 1)[0])
    assert named == packages


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path) -> None:
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
        if not re.match(r"[a-z]+://", target):
            assert (page.parent / target).exists(), f"{page.name}: {target}"


def test_nothing_points_outside_the_repository() -> None:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    forbidden = re.compile(r"DESIGN\.md|STYLE\.md|\.\./shared|\bissues? #?\d+\b|\bissue notes\b", re.IGNORECASE)
    hits = []
    for name in listed:
        path = ROOT / name
        if path.suffix in {".py", ".md", ".toml", ".yml", ".cfg", ".txt", ".sh"} or name in {"Makefile", ".ci/run"}:
            hits += [f"{name}: {m.group(0)}" for m in forbidden.finditer(path.read_text(encoding="utf-8"))]
    assert not hits


def test_the_documented_search_budgets_are_the_codes() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    register_eval_audio(parser.add_subparsers())
    eval_audio = parser._subparsers._group_actions[0].choices["eval-audio"]  # type: ignore[union-attr]
    eval_audio_renders = next(a.default for a in eval_audio._actions if a.dest == "max_renders")
    model = (ROOT / "docs" / "model.md").read_text(encoding="utf-8")
    assert (f"{eval_audio_renders} renders in `infer`, `eval`, `eval-audio`, `eval-takes` and the demo, "
            f"{_thousands(Settings().search_ms)} ms in the daemon (`serve --search-ms`)") in " ".join(model.split())
    cli = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert f"`--max-renders N` (default {INFER_RENDERS}, the starts included" in " ".join(cli.split())
    serve = (ROOT / "docs" / "serve.md").read_text(encoding="utf-8")
    assert f"(`--search-ms`, default {Settings().search_ms:.0f})" in serve


def test_the_documented_search_starts_are_the_codes() -> None:
    from engine.inference import LATENT_NEIGHBOURS
    from engine.runtime import LIBRARY_K
    from engine.search import TUNED_STARTS
    from engine.search_cma import CMA_UP_TO

    cli = " ".join((ROOT / "docs" / "cli.md").read_text(encoding="utf-8").split())
    words = {1: "one", 2: "two", 3: "three"}
    assert (f"the {LIBRARY_K} nearest voices of the voice library (by sound, see *Voice library*; each screened by "
            f"one render, the {TUNED_STARTS} closest tuned, the best one searched from) and "
            f"{words[LATENT_NEIGHBOURS]} seeded points") in cli
    assert f"with a budget of up to {CMA_UP_TO} renders by CMA-ES on its continuous parameters" in cli
