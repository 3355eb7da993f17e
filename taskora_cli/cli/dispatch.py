"""``taskora dispatch``: enqueue jobs from shell scripts and cron wrappers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import (
    TIMED_OUT,
    USAGE,
    ConfigOption,
    JsonOption,
    complete_task_name,
    fail,
    load,
    load_app,
    print_json,
)

if TYPE_CHECKING:
    from ..handle import JobHandle


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
    ttl: Annotated[
        str | None,
        typer.Option(
            help="Expire the job if no worker has started it this long after dispatch, e.g. "
            '"10m": the worker that reaches it then ends it expired instead of running it '
            "(--wait then exits 1). Must be longer than --delay.",
            show_default=False,
        ),
    ] = None,
    priority: Annotated[
        int, typer.Option(min=0, max=255, help="0..255; higher runs first, FIFO within one.")
    ] = 0,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", "-w", help="Wait for the job to end; print its result as JSON on stdout."
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
            "batches; prints one id per line. Nothing is dispatched if any line is bad.",
            metavar="FILE|-",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Enqueue a job and print its id (with --wait, its result)."""
    from ..durations import to_seconds

    if ndjson is not None and (data is not None or wait):
        fail(USAGE, "--ndjson reads the data of every job from its lines; drop --data and --wait")
    if timeout is not None and not wait:
        fail(USAGE, "--timeout only applies with --wait")
    timeout_s = to_seconds(timeout, what="--timeout") if timeout is not None else None
    items = _read_ndjson(ndjson) if ndjson is not None else None
    payload = _read_data(data) if items is None else None
    app = load_app(load(config))
    try:
        if items is not None:
            options = {"delay": delay, "priority": priority, "ttl": ttl}
            for handle in app.dispatch_many(task, items, **options):
                _print_dispatched(handle, as_json)
            return
        handle = app.dispatch(task, payload, delay=delay, priority=priority, ttl=ttl)
        if not wait:
            _print_dispatched(handle, as_json)
            return
        _wait_and_print(handle, timeout_s, as_json)
    finally:
        app.close()


def _print_dispatched(handle: JobHandle, as_json: bool) -> None:
    if as_json:
        print_json({"id": handle.id, "task": handle.task, "enqueued": handle.enqueued})
    else:
        print(handle.id, flush=True)


def _wait_and_print(handle: JobHandle, timeout_s: float | None, as_json: bool) -> None:
    from ..errors import JobError, JobFailedError

    try:
        result = handle.result(timeout=timeout_s)
    except TimeoutError:
        if as_json:
            print_json({"id": handle.id, "task": handle.task, "state": "timeout"})
        fail(TIMED_OUT, f"job {handle.id} did not end within {timeout_s:g}s; it keeps running")
    except JobError as exc:
        if as_json:
            error: dict[str, Any] = {"message": str(exc)}
            if isinstance(exc, JobFailedError):
                error |= {"type": exc.remote_type, "traceback": exc.remote_traceback}
            print_json(
                {"id": handle.id, "task": handle.task, "state": _state_of(exc), "error": error}
            )
        raise
    if as_json:
        print_json({"id": handle.id, "task": handle.task, "state": "completed", "result": result})
    else:
        print(json.dumps(result, ensure_ascii=False), flush=True)


def _state_of(error: Exception) -> str:
    from ..errors import CancelledError, ExpiredError, JobNotFoundError

    if isinstance(error, CancelledError):
        return "cancelled"
    if isinstance(error, ExpiredError):
        return "expired"
    if isinstance(error, JobNotFoundError):
        return "missing"
    return "failed"


def _read_text(source: str, what: str) -> str:
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        fail(USAGE, f"{what}: cannot read {source}: {exc.strerror or exc}")
    except UnicodeDecodeError:
        fail(USAGE, f"{what}: {source} is not UTF-8 text")


def _read_data(data: str | None) -> Any:
    if data is None:
        return None
    text = _read_text(data[1:], "--data") if data.startswith("@") else data
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        shown = data if len(data) <= 40 else data[:37] + "..."
        fail(USAGE, f"--data {shown!r} is not valid JSON ({exc}); quote it for the shell, "
             "e.g. --data '{\"to\": \"a@example.com\"}'")  # fmt: skip


def _read_ndjson(source: str) -> list[Any]:
    items: list[Any] = []
    for number, line in enumerate(_read_text(source, "--ndjson").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as exc:
            name = "standard input" if source == "-" else source
            fail(
                USAGE, f"line {number} of {name} is not valid JSON ({exc}); nothing was dispatched"
            )
    return items
