"""What ``taskora stats`` does, whichever reader read its command line (typer in stats.py, or
the fast path in fast_path.py). No typer here, so the fast path never imports it."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..job_state import LISTED_STATES as STATES
from .common import USAGE, fail, load, load_app, print_json, print_table

if TYPE_CHECKING:
    from ..app import Taskora

COLUMNS = STATES


def format_latency(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def run_stats(
    *,
    watch: bool = False,
    interval: str = "2s",
    as_json: bool = False,
    wide: bool = False,
    config: Path | None = None,
) -> None:
    """Run ``taskora stats`` with these flags (see its --help in stats.py)."""
    from ..durations import to_seconds

    period = to_seconds(interval, what="--interval")
    if period < 0.1:  # as top: 0s would spin the server with reads
        fail(USAGE, f"--interval must be at least 100ms, got {interval!r}")
    app = load_app(load(config))
    try:
        if not watch:
            _show(app, as_json, wide)
            return
        while True:
            if not as_json:  # on a terminal, redraw in place; in a pipe, one block per refresh
                clear = "\x1b[H\x1b[2J" if sys.stdout.isatty() else "\n"
                print(f"{clear}{time.strftime('%H:%M:%S')}", flush=True)
            _show(app, as_json, wide)
            time.sleep(period)
    except KeyboardInterrupt:
        return  # Ctrl-C is how a watch ends: not an error
    finally:
        app.close()


def snapshot(app: Taskora) -> dict[str, Any]:
    """Counts, latency and the last hour's throughput, as JSON-ready data."""
    from .. import documents

    inspector = app.inspect()
    found = inspector.stats()
    return documents.stats(found, inspector.throughput(minutes=60), app.config.retention)


def _show(app: Taskora, as_json: bool, wide: bool = False) -> None:
    data = snapshot(app)
    if as_json:
        print_json(data)
        return
    rows = [
        (s["task"], *(str(s[c]) for c in COLUMNS), format_latency(s["latency"]))
        for s in [*data["tasks"], data["total"]]
    ]
    rows[-1] = ("TOTAL", *rows[-1][1:])
    print_table(("TASK", *(c.upper() for c in COLUMNS), "LATENCY"), rows, wide=wide)
    minute, hour = data["last_minute"], data["last_hour"]
    print(
        f"finished: last minute {minute['completed']} completed, {minute['failed']} failed; "
        f"last hour {hour['completed']} completed, {hour['failed']} failed"
    )
    print(f"COMPLETED and FAILED count what retention keeps: {_kept(data['retention'])}")


def _kept(limits: dict[str, int | None]) -> str:
    """The retention caps in words, e.g. "completed up to 10000 per task for 1d"."""
    from ..durations import format_ms

    parts = []
    for state in ("completed", "failed"):
        items, age = limits[f"{state}_max_items"], limits[f"{state}_max_age_ms"]
        most = "all" if items is None else f"up to {items:,} per task"
        parts.append(f"{state} {most}" + ("" if age is None else f" for {format_ms(age)}"))
    return "; ".join(parts)
