"""``taskora workers``: the registered worker processes, live and gone."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from .. import documents
from .common import TIMED_OUT, fail, load, load_app, plural, print_json, print_table
from .options import ConfigOption, JsonOption, WideOption

if TYPE_CHECKING:
    from ..app import Taskora
    from ..views.worker_registry import WorkerInfo

app = typer.Typer(help="Look at and drain the worker processes.", no_args_is_help=True)


@app.command("ls")
def ls(as_json: JsonOption = False, wide: WideOption = False, config: ConfigOption = None) -> None:
    """List every registered worker: its tasks, busy slots, counts and heartbeat age. A worker
    that missed 3 heartbeats is gone; the next stall sweep recovers its jobs. STUCK counts
    thread handlers running on past their timeout; a worker with more than it can replace is
    unhealthy: it claims no more thread jobs. SCHED marks the worker holding the scheduler
    lease (the one firing due schedules; ``scheduler`` in --json)."""

    app_ = load_app(load(config), import_modules=False)
    try:
        found = app_.workers()
    finally:
        app_.close()
    if as_json:
        print_json([w.as_dict() for w in found])
    elif not found:
        print("no workers")
    else:
        rows = [
            (w.id, w.host, str(w.pid), f"{w.active}/{w.slots}", str(w.processed), str(w.failed),
             str(w.stuck), f"{w.age:.1f}s", _state(w), "yes" if w.scheduler else "",
             ",".join(w.tasks))
            for w in found
        ]  # fmt: skip
        headers = ("ID", "HOST", "PID", "BUSY", "PROCESSED", "FAILED", "STUCK", "BEAT", "STATE",
                   "SCHED", "TASKS")  # fmt: skip
        print_table(headers, rows, wide=wide)


def _state(worker: WorkerInfo) -> str:
    if worker.gone:
        return "gone"
    if worker.draining:
        return "draining"
    return "live" if worker.healthy else "unhealthy"


@app.command("drain")
def drain(
    node: Annotated[
        str, typer.Argument(metavar="NODE", help="A worker id, or a host (all its workers).")
    ],
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until the workers have exited.")
    ] = False,
    timeout: Annotated[
        str | None,
        typer.Option(help='With --wait: give up after this long, e.g. "2m" (exit 124).'),
    ] = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Ask workers to stop claiming, finish their running jobs and exit (within a second).
    A supervisor (`work --processes`) does not restart a drained child. Exit 2 when no live
    worker has that id or host."""
    from ..durations import to_seconds

    timeout_s = to_seconds(timeout, what="--timeout") if timeout is not None else None
    app_ = load_app(load(config), import_modules=False)
    try:
        asked = app_.drain_workers(node)
        left = _wait_gone(app_, asked, timeout_s) if wait else asked
    finally:
        app_.close()
    if as_json:
        print_json(documents.workers_drained(asked, left if wait else None))
    else:
        for worker_id in asked:
            done = wait and worker_id not in left
            print(f"{worker_id} {'exited' if done else 'draining'}")
    if wait and left:
        still = plural(len(left), "worker")
        fail(TIMED_OUT, f"{still} still running after {timeout}: {', '.join(left)}")


def _wait_gone(app_: Taskora, ids: list[str], timeout_s: float | None) -> list[str]:
    """Poll the registry until none of ``ids`` is live; the ones still live at the deadline."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        live = {w.id for w in app_.workers() if not w.gone}
        left = [worker_id for worker_id in ids if worker_id in live]
        if not left or (deadline is not None and time.monotonic() >= deadline):
            return left
        time.sleep(0.2)
