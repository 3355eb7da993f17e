"""``taskora queues``: list queues, pause and resume them."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import (
    ConfigOption,
    JsonOption,
    WideOption,
    load,
    load_app,
    print_json,
    print_table,
)
from .stats import format_latency

app = typer.Typer(help="List, pause and resume queues.", no_args_is_help=True)

QueueName = Annotated[str, typer.Argument(metavar="NAME", help="The queue (a task's `queue`).")]


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
def pause(name: QueueName, as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """Pause a queue: workers everywhere stop starting its jobs within a second (running ones
    finish); dispatch still accepts new jobs. Undo with `taskora queues resume`."""
    _switch(name, paused=True, as_json=as_json, config=config)


@app.command("resume")
def resume(name: QueueName, as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """Resume a paused queue: workers start its jobs again within a second."""
    _switch(name, paused=False, as_json=as_json, config=config)


def _switch(name: str, *, paused: bool, as_json: bool, config: ConfigOption) -> None:
    app_ = load_app(load(config), import_modules=False)
    try:
        queues = app_.queues()
        changed = queues.pause(name) if paused else queues.resume(name)
    finally:
        app_.close()
    state = "paused" if paused else "running"
    if as_json:
        print_json({"queue": name, "state": state, "changed": changed})
    else:
        print(f"queue {name} {state}" + ("" if changed else " (it already was)"))
