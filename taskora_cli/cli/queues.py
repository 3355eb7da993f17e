"""``taskora queues``: list queues, pause and resume them."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import load, load_app, print_json, print_table
from .options import ConfigOption, JsonOption, WideOption
from .queue_switch import switch
from .stats_report import format_latency

app = typer.Typer(help="List, pause and resume queues.", no_args_is_help=True)

QueueName = Annotated[str, typer.Argument(metavar="NAME", help="The queue (a task's `queue`).")]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Act on a queue no task uses yet (e.g. pause it before its tasks are deployed).",
    ),
]


@app.command("ls")
def ls(as_json: JsonOption = False, wide: WideOption = False, config: ConfigOption = None) -> None:
    """List every queue: whether it is paused, its tasks, jobs waiting/delayed/active/failed,
    and its latency (the age of its oldest waiting job)."""
    app_ = load_app(load(config))
    try:
        found = app_.queues().list()
    finally:
        app_.close()
    if as_json:
        print_json([q.as_dict() for q in found])
        return
    rows = [
        (q.name, "paused" if q.paused else "running", str(q.waiting), str(q.delayed),
         str(q.active), str(q.failed), format_latency(q.latency), ",".join(q.tasks))
        for q in found
    ]  # fmt: skip
    headers = ("QUEUE", "STATE", "WAITING", "DELAYED", "ACTIVE", "FAILED", "LATENCY", "TASKS")
    print_table(headers, rows, wide=wide)


@app.command("pause")
def pause(
    name: QueueName, force: ForceOption = False, as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:  # fmt: skip
    """Pause a queue: workers everywhere stop starting its jobs within a second (running ones
    finish); dispatch still accepts new jobs. Undo with `taskora queues resume`. A queue no
    task uses is refused (a typo would pause nothing) unless --force."""
    switch(name, paused=True, force=force, as_json=as_json, config=config)


@app.command("resume")
def resume(
    name: QueueName, force: ForceOption = False, as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:  # fmt: skip
    """Resume a paused queue: workers start its jobs again within a second. A queue neither
    paused nor used by any task is refused unless --force."""
    switch(name, paused=False, force=force, as_json=as_json, config=config)
