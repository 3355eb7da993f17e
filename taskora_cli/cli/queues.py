"""``taskora queues``: list queues, pause and resume them."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import documents
from .common import USAGE, fail, load, load_app, print_json, print_table
from .options import ConfigOption, JsonOption, WideOption
from .stats import format_latency

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
    _switch(name, paused=True, force=force, as_json=as_json, config=config)


@app.command("resume")
def resume(
    name: QueueName, force: ForceOption = False, as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:  # fmt: skip
    """Resume a paused queue: workers start its jobs again within a second. A queue neither
    paused nor used by any task is refused unless --force."""
    _switch(name, paused=False, force=force, as_json=as_json, config=config)


def _switch(name: str, *, paused: bool, force: bool, as_json: bool, config: ConfigOption) -> None:
    from ..names import check_queue_name

    check_queue_name(name)  # a malformed name says so, before "unknown"
    app_ = load_app(load(config))  # the task modules too: their queues are known ones
    try:
        queues = app_.queues()
        if not force:
            _known_or_fail(name, [q.name for q in queues.list()], "pause" if paused else "resume")
        changed = queues.pause(name) if paused else queues.resume(name)
    finally:
        app_.close()
    state = "paused" if paused else "running"
    if as_json:
        print_json(documents.queue_switched(name, paused=paused, changed=changed))
    else:
        print(f"queue {name} {state}" + ("" if changed else " (it already was)"))


def _known_or_fail(name: str, known: list[str], verb: str) -> None:
    """Stop on a queue no task uses and none paused: as ``work -q``, a typo is an error, not
    a phantom queue."""
    if name in known:
        return
    listed = ", ".join(known) if known else "none yet"
    fail(USAGE, f"unknown queue {name!r}; the known queues are: {listed} (add --force to {verb} "
         "it anyway)")  # fmt: skip
