"""Print the import graph of taskora_cli/ and its cycles, read from the source with ``ast``.

Every import counts: top-level, inside functions (lazy) and under ``if TYPE_CHECKING:``, since
each is an arrow between modules whichever moment it runs.

    python tools/import_graph.py            # cycles, then each module's arrows
    python tools/import_graph.py --cycles   # only the cycles; exit status 1 if there are any
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "taskora_cli"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> Iterator[str]:
    """The package's modules that ``module`` imports (``from .x import y`` names x, or x.y
    when y is itself a module)."""
    here = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    yield _nearest(alias.name, known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield sub if sub in known else _nearest(target, known)


def _nearest(name: str, known: set[str]) -> str:
    while name not in known and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def graph(root: Path) -> dict[str, set[str]]:
    files = {module_name(p, root): p for p in sorted((root / PACKAGE).rglob("*.py"))}
    known = set(files)
    edges: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        targets = set(imported(tree, name, is_package, known))
        # a package's __init__ is not an arrow to everything below it
        edges[name] = {t for t in targets if t != name and t != PACKAGE}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found, key=len, reverse=True)


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parent.parent
    edges = graph(root)
    found = cycles(edges)
    short = len(PACKAGE) + 1
    for component in found:
        print(f"cycle of {len(component)}: " + ", ".join(m[short:] for m in component))
    if not found:
        print("no import cycles")
    if "--cycles" not in argv:
        print()
        for name in sorted(edges):
            arrows = ", ".join(sorted(t[short:] for t in edges[name])) or "-"
            print(f"{name[short:] or '__init__'} -> {arrows}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
