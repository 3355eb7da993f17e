"""The start-up banner of ``taskora work``: server, tasks, queues and slots, on stderr."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from ..urls import mask_url
from .find_app import describe

if TYPE_CHECKING:
    from ..app import Taskora
    from ..config import Config
    from ..worker.launch import WorkPlan


def print_banner(app: Taskora, cfg: Config, plan: WorkPlan) -> None:
    """Describe what this ``taskora work`` is about to run: ``plan``, as the launcher
    resolved it (slots included, so the banner shows what the worker runs)."""
    from .. import __version__
    from ..durations import format_ms

    url = mask_url(app.resolve_url())
    server = f"embedded Valkey ({url})" if app.runtime.uses_embedded else url
    rows = Table.grid(padding=(0, 2))
    rows.add_row("server", server)
    rows.add_row("config", str(cfg.path) if cfg.path else "(none: defaults)")
    rows.add_row("modules", ", ".join(cfg.modules) or "(none)")
    rows.add_row("app", describe(app, cfg))
    extra = " · reloading on change" if plan.reload else ""
    rows.add_row(
        "processes",
        f"{plan.processes} · pid {os.getpid()} · grace {format_ms(plan.grace_ms)}{extra}",
    )
    table = Table(box=None, padding=(0, 2), show_edge=False)
    table.add_column("task", style="bold")
    table.add_column("queue")
    table.add_column("slots", justify="right")
    for task in plan.tasks:
        table.add_row(task.name, task.options.queue, str(plan.slots[task.name]))
    grid = Table.grid()
    grid.add_row(rows)
    grid.add_row("")
    grid.add_row(table)
    Console(stderr=True).print(Panel(grid, title=f"taskora {__version__} · worker", expand=False))
