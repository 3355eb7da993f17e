"""``taskora workers``: the registered worker processes, live and gone."""

from __future__ import annotations

import typer

from .common import ConfigOption, JsonOption, load, load_app, print_json, print_table

app = typer.Typer(help="Look at the worker processes.", no_args_is_help=True)


@app.command("ls")
def ls(as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """List every registered worker: its tasks, busy slots, counts and heartbeat age. A worker
    that missed 3 heartbeats is gone; the next stall sweep recovers its jobs."""

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
             f"{w.age:.1f}s", "gone" if w.gone else "live", ",".join(w.tasks))
            for w in found
        ]  # fmt: skip
        headers = ("ID", "HOST", "PID", "BUSY", "PROCESSED", "FAILED", "BEAT", "STATE", "TASKS")
        print_table(headers, rows)
