"""The package's imports run one way: no module imports, even lazily or for type checking,
a module that imports it back."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_tool() -> object:
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "tools/import_graph.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["import_graph"] = module
    spec.loader.exec_module(module)
    return module


def test_the_package_has_no_import_cycle() -> None:
    tool = load_tool()
    edges = tool.graph(ROOT)  # type: ignore[attr-defined]
    assert edges.get("taskora_cli.app")  # the walk sees imports
    assert tool.cycles(edges) == []  # type: ignore[attr-defined]


def test_the_walk_finds_a_cycle_when_there_is_one() -> None:
    tool = load_tool()
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert tool.cycles(edges) == [["a", "b", "c"]]  # type: ignore[attr-defined]


def test_no_view_reaches_into_the_facade() -> None:
    tool = load_tool()
    edges = tool.graph(ROOT)  # type: ignore[attr-defined]
    # the CLI, the TUI and the TaskManager API build apps: they sit above the facade
    facades = ("taskora_cli.cli", "taskora_cli.tui", "taskora_cli.manager")
    library = {m for m in edges if not m.startswith(facades)}
    importers = sorted(m for m in library if "taskora_cli.app" in edges[m])
    assert importers == ["taskora_cli"]  # only the package's __init__ re-exports it
