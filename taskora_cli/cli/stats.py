"""``taskora stats``: how many jobs each task has in each state, and how long the line is."""

from __future__ import annotations

from .common import ConfigOption, JsonOption, load, load_app, print_json, print_table

COLUMNS = ("waiting", "delayed", "active", "completed", "failed", "expired", "cancelled")


def format_latency(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def stats(as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """Jobs per task by state, and each queue's latency (the age of its oldest waiting job)."""
    app = load_app(load(config))
    try:
        found = app.inspect().stats()
    finally:
        app.close()
    if as_json:
        print_json({"tasks": [s.as_dict() for s in found.tasks], "total": found.total.as_dict()})
        return
    rows = [
        (s.task, *(str(getattr(s, c)) for c in COLUMNS), format_latency(s.latency))
        for s in [*found.tasks, found.total]
    ]
    rows[-1] = ("TOTAL", *rows[-1][1:])
    print_table(("TASK", *(c.upper() for c in COLUMNS), "LATENCY"), rows)
