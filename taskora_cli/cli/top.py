"""``taskora top``: the live dashboard, or the Overview printed every interval without a TTY."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .. import documents
from ..tui.model import keys_help
from .common import UNREACHABLE, USAGE, complete_task_name, fail, load, load_app, print_json
from .options import ConfigOption

if TYPE_CHECKING:
    from ..app import Taskora


def top(
    interval: Annotated[
        str,
        typer.Option("--interval", "-i", help='How often to refresh, e.g. "1s", "500ms", "5s".'),
    ] = "1s",
    task: Annotated[
        str | None,
        typer.Option(
            "--task",
            "-t",
            help="Only this task (default: every known task).",
            autocompletion=complete_task_name,
            show_default=False,
        ),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Print the Overview once as plain text and exit.")
    ] = False,
    iterations: Annotated[
        int | None,
        typer.Option(
            "--iterations",
            min=1,
            show_default=False,
            help="Stop after N refreshes (default: until q or Ctrl-C).",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print the Overview once as one JSON document and exit (as --once)."
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    from ..durations import to_seconds
    from ..tui.app import run_live, run_plain
    from ..tui.state import State

    seconds = to_seconds(interval, what="--interval")
    if seconds < 0.1:
        fail(USAGE, f"--interval must be at least 100ms, got {interval!r}")
    app = load_app(load(config))
    try:
        known = app.inspect().tasks()  # an unreachable server fails here, once (exit 3)
        if task is not None and task not in known:
            fail(USAGE, f"unknown task {task!r}; known tasks: {', '.join(known) or 'none'}")
        if as_json:
            print_json(_overview(app, task))
        elif once or not (sys.stdin.isatty() and sys.stdout.isatty()):
            error = run_plain(app, task, seconds, 1 if once else iterations, sys.stdout)
            if error:
                fail(UNREACHABLE, f"cannot read the server: {error}")
        else:
            run_live(app, State(task=task), seconds, iterations)
    finally:
        app.close()


def _overview(app: Taskora, task: str | None) -> dict[str, Any]:
    """What the Overview shows, as JSON: server, counts per task, queues, throughput, workers."""
    from ..tui.fetch import fetch
    from ..tui.state import State, query

    snap = fetch(app, query(State(task=task)))
    if snap.error or snap.stats is None:
        fail(UNREACHABLE, f"cannot read the server: {snap.error}")
    return documents.overview(
        snap.taken_ms, snap.server, snap.stats, snap.queues or [], snap.throughput or [],
        snap.workers or [],
    )  # fmt: skip


top.__doc__ = f"""A live view of queues, jobs, dead letters, workers and schedules that can act
on them.

Keys (? lists them in the dashboard too):

{keys_help()}

Without a terminal (piped, or --once) it prints the Overview every interval instead; with
--json, once as one JSON document. Exit codes: 0 done; 2 bad option or unknown task; 3 the
server cannot be reached at start (or at the last plain read; the dashboard retries).
"""
