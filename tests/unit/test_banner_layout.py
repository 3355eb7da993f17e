"""The worker banner's own layout draws exactly what rich's tables drew (the same bytes, styles
included), and leaves to the tables what they would wrap."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.panel import Panel

from taskora_cli.cli.banner import as_tables, laid_out

ROWS = [
    ("server", "unix:///tmp/taskora/valkey.sock"),
    ("config", "/srv/app/taskora.toml"),
    ("modules", "app.tasks, app.mail"),
    ("app", "the default app (@task)"),
    ("processes", "1 · pid 4242 · grace 30s · reloading on change"),
]
TASKS = [
    ("send_mail", "emails", "8"),
    ("resize", "[red]images[/red]", "1000000"),
    ("日本", "q", "1"),
]
MARKUP = [*ROWS[:1], ("config", "x :smile: [b]y[/b]")]
Rows = list[tuple[str, str]]
Tasks = list[tuple[str, str, str]]


def drawn(body_of: str, width: int, color: bool, rows: Rows, tasks: Tasks) -> str:
    console = Console(
        file=io.StringIO(), width=width, force_terminal=color,
        color_system="truecolor" if color else None,
    )  # fmt: skip
    body = laid_out(console, rows, tasks) if body_of == "text" else None
    console.print(Panel(body or as_tables(rows, tasks), title="taskora 1 · worker", expand=False))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(out, str)
    return out


@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize("width", [30, 80, 200])
def test_the_banner_is_drawn_as_the_tables_drew_it(width: int, color: bool) -> None:
    for rows, tasks in [(ROWS, TASKS), (MARKUP, TASKS[:1])]:
        ours = drawn("text", width, color, rows, tasks)
        assert ours == drawn("tables", width, color, rows, tasks)


def test_what_would_wrap_is_left_to_the_tables() -> None:
    narrow = Console(file=io.StringIO(), width=30)
    assert laid_out(narrow, ROWS, TASKS) is None
    assert laid_out(Console(file=io.StringIO(), width=200), [("a", "b\nc")], TASKS) is None
    assert laid_out(Console(file=io.StringIO(), width=200), ROWS, TASKS) is not None
