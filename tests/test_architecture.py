"""The packages' shape: dependencies point one way (bridge -> engine -> models), no import cycle
inside them (type-checking imports count), and bridge/ reads by concern."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bridge", "engine", "models")
LAYER = {"models": 0, "engine": 1, "bridge": 2}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[dotted.removesuffix(".__init__")] = path
    return found


def _imports(module: str, source: str, known: set[str]) -> set[str]:
    targets = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
    return targets


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {module: _imports(module, path.read_text(), set(modules)) for module, path in modules.items()}


def test_no_relative_imports_hide_from_the_check() -> None:
    relative = [str(path.relative_to(ROOT)) for path in _modules().values()
                if any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(ast.parse(path.read_text())))]
    assert relative == []


def test_no_import_cycles() -> None:
    try:
        tuple(graphlib.TopologicalSorter(_graph()).static_order())
    except graphlib.CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from exc


def test_dependencies_point_one_way() -> None:
    upward = [f"{module} imports {target}" for module, targets in _graph().items() for target in targets
              if LAYER[target.split(".")[0]] > LAYER[module.split(".")[0]]]
    assert upward == []


def test_type_checking_imports_count() -> None:
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bridge.daemon.session import BridgeSession\n"
    known = {"bridge.daemon.session", "bridge.daemon.controls"}
    assert _imports("bridge.daemon.controls", source, known) == {"bridge.daemon.session"}


def test_bridge_reads_by_concern() -> None:
    loose = sorted(p.name for p in (ROOT / "bridge").glob("*.py") if p.name != "__init__.py")
    assert len(loose) <= 12, loose
    for concern in ("midi", "osc", "daemon", "sinks", "commands"):
        assert (ROOT / "bridge" / concern / "__init__.py").is_file(), concern
