"""``taskora stats``: how many jobs each task has in each state, how long the line is, and how
many jobs finished lately; once, or refreshed until Ctrl-C (``--watch``)."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import ConfigOption, JsonOption, WideOption
from .stats_report import run_stats


def stats(
    watch: Annotated[
        bool, typer.Option("--watch", help="Refresh until Ctrl-C instead of printing once.")
    ] = False,
    interval: Annotated[
        str, typer.Option(help='With --watch: how often to refresh, e.g. "2s".')
    ] = "2s",
    as_json: JsonOption = False,
    wide: WideOption = False,
    config: ConfigOption = None,
) -> None:
    """Jobs per task by state, each queue's latency (the age of its oldest waiting job), and
    the jobs completed and failed for good in the last minute and hour.

    COMPLETED and FAILED count the finished jobs retention still keeps ([retention] in the
    config: by default up to 10,000 per task, completed for 1d, failed for 7d), so they stop
    growing at the cap; the last-minute and last-hour counts are not capped. With --watch and
    --json, one JSON document per line per refresh (JSON Lines)."""
    run_stats(watch=watch, interval=interval, as_json=as_json, wide=wide, config=config)
