"""The start-up banner of ``taskora work``: server, tasks, queues and slots, on stderr.

It is drawn on the way to the worker's first claim, so it is laid out here, line by line, as
rich's tables would lay it out, and only the panel around it is left to rich: nested tables
cost ~3 ms of rich's measuring, the panel ~0.3 ms. Where the tables would have to wrap (a
terminal narrower than the banner, a value of several lines) rich's tables draw it, as before.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..urls import mask_url
from .find_app import describe

if TYPE_CHECKING:
    from ..app import Taskora
    from ..config import Config
    from ..worker.launch import WorkPlan

TASK_HEADER = ("task", "queue", "slots")
PAD = 2
"""The horizontal padding of both tables."""


def print_banner(app: Taskora, cfg: Config, plan: WorkPlan) -> None:
    """Describe what this ``taskora work`` is about to run: ``plan``, as the launcher
    resolved it (slots included, so the banner shows what the worker runs)."""
    from .. import __version__

    console = Console(stderr=True)
    title = f"taskora {__version__} · worker"
    rows, tasks = banner_rows(app, cfg, plan)
    body = laid_out(console, rows, tasks) or as_tables(rows, tasks)
    console.print(Panel(body, title=title, expand=False))


def banner_rows(
    app: Taskora, cfg: Config, plan: WorkPlan
) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """What the banner says: (label, value) rows, then a (task, queue, slots) row per task."""
    from ..durations import format_ms

    url = mask_url(app.resolve_url())
    server = f"embedded Valkey ({url})" if app.runtime.uses_embedded else url
    extra = " · reloading on change" if plan.reload else ""
    rows = [
        ("server", server),
        ("config", str(cfg.path) if cfg.path else "(none: defaults)"),
        ("modules", ", ".join(cfg.modules) or "(none)"),
        ("app", describe(app, cfg)),
        (
            "processes",
            f"{plan.processes} · pid {os.getpid()} · grace {format_ms(plan.grace_ms)}{extra}",
        ),
    ]
    tasks = [(t.name, t.options.queue, str(plan.slots[t.name])) for t in plan.tasks]
    return rows, tasks


def as_tables(rows: Sequence[tuple[str, str]], tasks: Sequence[tuple[str, ...]]) -> Table:
    """The banner's body as rich's tables (the reference layout; it wraps what is too wide)."""
    grid_rows = Table.grid(padding=(0, PAD))
    for label, value in rows:
        grid_rows.add_row(label, value)
    table = Table(box=None, padding=(0, PAD), show_edge=False)
    table.add_column(TASK_HEADER[0], style="bold")
    table.add_column(TASK_HEADER[1])
    table.add_column(TASK_HEADER[2], justify="right")
    for task in tasks:
        table.add_row(*task)
    grid = Table.grid()
    grid.add_row(grid_rows)
    grid.add_row("")
    grid.add_row(table)
    return grid


def laid_out(
    console: Console, rows: Sequence[tuple[str, str]], tasks: Sequence[tuple[str, ...]]
) -> RenderableType | None:
    """The banner's body as :func:`as_tables` draws it (the same characters and styles, in
    the same pieces), as one Text; None where the tables would wrap a cell (then
    :func:`as_tables` draws it)."""
    cells = [*(c for row in rows for c in row), *(c for task in tasks for c in task)]
    if any("\n" in c for c in cells):
        return None

    def text(cell: str) -> Text:  # a table cell: markup and emoji, not highlighted
        return console.render_str(cell, highlight=False)

    labels = [text(label) for label, _ in rows]
    values = [text(value) for _, value in rows]
    header = [text(name) for name in TASK_HEADER]
    body = [[text(cell) for cell in task] for task in tasks]
    label_w = max(t.cell_len for t in labels)
    value_w = max(t.cell_len for t in values)
    grid_w = label_w + PAD + value_w  # no edge padding, PAD between the columns (collapsed)
    widths = [max(row[i].cell_len for row in [header, *body]) for i in range(3)]
    table_w = sum(widths) + 2 * PAD * len(widths)  # PAD on both sides of every column
    width = max(grid_w, table_w)
    if width + 4 > console.width:  # the panel's border and padding: the tables would wrap
        return None
    lines = [
        _line([("", label), ("", " " * (label_w - label.cell_len + PAD)), ("", value)], width)
        for label, value in zip(labels, values, strict=True)
    ]
    lines.append(_line([], width))
    for row in [header, *body]:
        pieces: list[tuple[str, Text | str]] = []
        for i, cell in enumerate(row):
            style = "table.header" if row is header else "bold" if i == 0 else ""
            fill = " " * (widths[i] - cell.cell_len)
            # rich pads a cell's text to the column's width inside the text: one piece
            padded = Text(fill).append_text(cell) if i == 2 else cell.copy().append(fill)
            pieces += [(style, " " * PAD), (style, padded), (style, " " * PAD)]
        lines.append(_line(pieces, width))
    return Text("\n").join(lines)


def _line(pieces: Sequence[tuple[str, Text | str]], width: int) -> Text:
    """One line of ``pieces`` (style, text), each its own span as a table cell's would be,
    padded with spaces to ``width``."""
    line = Text()
    for style, piece in pieces:
        if not piece:
            continue
        if isinstance(piece, str):
            line.append(piece, style or None)
        else:
            styled = Text(style=style)
            styled.append_text(piece)
            line.append_text(styled)
    line.append(" " * (width - line.cell_len))
    return line
