"""``taskora dispatch``: enqueue jobs from shell scripts and cron wrappers."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import complete_task_name
from .options import ConfigOption, JsonOption


def dispatch(
    task: Annotated[
        str,
        typer.Argument(metavar="TASK", help="The task to run.", autocompletion=complete_task_name),
    ],
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            "-d",
            help="The job's data: inline JSON, @file.json, or @- to read standard input. "
            "Default: null.",
            show_default=False,
        ),
    ] = None,
    delay: Annotated[
        str | None,
        typer.Option(help='Run no sooner than this, e.g. "5s", "10m", "2h".', show_default=False),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="Run no sooner than this moment, ISO 8601: 2026-12-24T09:00Z, "
            "2026-12-24T10:00+01:00 (no offset: UTC); a moment past means now. Not with --delay.",
            metavar="WHEN",
            show_default=False,
        ),
    ] = None,
    job_id: Annotated[
        str | None,
        typer.Option(
            "--id",
            help="The job's id instead of a random one (an order number, say). While a job with "
            "this id exists, dispatching it again does nothing (rejected, as with --dedup; the "
            "id is printed).",
            metavar="ID",
            show_default=False,
        ),
    ] = None,
    ttl: Annotated[
        str | None,
        typer.Option(
            help="Expire the job if no worker has started it this long after dispatch, e.g. "
            '"10m": the worker that reaches it then ends it expired instead of running it '
            "(--wait then exits 1). Must be longer than --delay.",
            show_default=False,
        ),
    ] = None,
    on_expire: Annotated[
        str | None,
        typer.Option(
            "--on-expire",
            help="With --ttl: what an expired job becomes: fail (kept as expired, the default) "
            "or discard (deleted, no trace).",
            metavar="fail|discard",
            show_default=False,
        ),
    ] = None,
    priority: Annotated[
        int, typer.Option(min=0, max=255, help="0..255; higher runs first, FIFO within one.")
    ] = 0,
    debounce: Annotated[
        str | None,
        typer.Option(
            help="KEY=DELAY: run DELAY after the last dispatch with KEY; each dispatch replaces "
            "the still-pending one (only the last payload runs), e.g. doc:1=2s.",
            metavar="KEY=DELAY",
            show_default=False,
        ),
    ] = None,
    throttle: Annotated[
        str | None,
        typer.Option(
            help="KEY=MAX/WINDOW: accept at most MAX dispatches with KEY in any WINDOW "
            "(sliding); the rest are rejected, e.g. stripe=100/1m.",
            metavar="KEY=MAX/WINDOW",
            show_default=False,
        ),
    ] = None,
    dedup: Annotated[
        str | None,
        typer.Option(
            help="KEY: while a job dispatched with KEY is waiting, delayed, active or paused, do "
            "nothing (rejected; the existing job's id is printed instead).",
            metavar="KEY",
            show_default=False,
        ),
    ] = None,
    dedup_while: Annotated[
        str | None,
        typer.Option(
            help="With --dedup: the states that block, comma separated (default "
            "waiting,delayed,active,paused).",
            metavar="STATES",
            show_default=False,
        ),
    ] = None,
    concurrency_key: Annotated[
        str | None,
        typer.Option(
            help="KEY=LIMIT: at most LIMIT jobs with KEY run at once across every worker; the "
            "others wait their turn. KEY alone uses the task's concurrency_limit (else 1).",
            metavar="KEY=LIMIT",
            show_default=False,
        ),
    ] = None,
    allow_reject: Annotated[
        bool,
        typer.Option(
            "--allow-reject",
            help="Exit 0 when --throttle or --dedup rejects the dispatch (default: exit 1).",
        ),
    ] = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            "-w",
            help="Wait for the job to end; print its result on stdout as JSON (a string result "
            'prints quoted, "like this"; see --raw).',
        ),
    ] = False,
    raw: Annotated[
        bool,
        typer.Option(
            "--raw",
            help="With --wait: print a string result as it is, unquoted (other results stay JSON).",
        ),
    ] = False,
    timeout: Annotated[
        str | None,
        typer.Option(
            help="With --wait: give up after this long (exit 124; the job keeps running), e.g. "
            '"30s". Default: wait for ever.',
            show_default=False,
        ),
    ] = None,
    ndjson: Annotated[
        str | None,
        typer.Option(
            help="Dispatch one job per line of FILE (- for standard input), in pipelined "
            "batches; prints one id per line (with --json, one list). Nothing is dispatched if "
            "any line is bad.",
            metavar="FILE|-",
            show_default=False,
        ),
    ] = None,
    skip_validation: Annotated[
        bool,
        typer.Option(
            "--skip-validation",
            help="Enqueue the data without checking it against the task's input schema (its "
            "local one, else the one its workers published). The worker still checks it "
            "before the handler runs: bad data then fails the job for good.",
        ),
    ] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Enqueue a job and print its id (with --wait, its result).

    The data is checked against the task's input schema first: bad data exits 2 naming
    each bad field, and nothing is enqueued (see --skip-validation).

    A dispatch rejected by --throttle or --dedup prints why on stderr and exits 1 (0 with
    --allow-reject); at most one of --debounce, --throttle and --dedup may be given.
    """
    from .dispatch_job import run_dispatch

    run_dispatch(
        task,
        data=data,
        delay=delay,
        at=at,
        job_id=job_id,
        ttl=ttl,
        on_expire=on_expire,
        priority=priority,
        debounce=debounce,
        throttle=throttle,
        dedup=dedup,
        dedup_while=dedup_while,
        concurrency_key=concurrency_key,
        allow_reject=allow_reject,
        wait=wait,
        raw=raw,
        timeout=timeout,
        ndjson=ndjson,
        skip_validation=skip_validation,
        as_json=as_json,
        config=config,
    )
