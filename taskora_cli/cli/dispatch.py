"""``taskora dispatch``: enqueue jobs from shell scripts and cron wrappers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .. import documents
from . import flow_flags as flags
from .common import (
    JOB_FAILED,
    TIMED_OUT,
    USAGE,
    ConfigOption,
    JsonOption,
    complete_task_name,
    error_line,
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
    from ..durations import to_seconds

    if ndjson is not None and (data is not None or wait):
        fail(USAGE, "--ndjson reads the data of every job from its lines; drop --data and --wait")
    if timeout is not None and not wait:
        fail(USAGE, "--timeout only applies with --wait")
    if raw and (not wait or as_json):
        fail(USAGE, "--raw only applies with --wait and without --json")
    timeout_s = to_seconds(timeout, what="--timeout") if timeout is not None else None
    flow = {
        "debounce": flags.debounce_option(debounce),
        "throttle": flags.throttle_option(throttle),
        "deduplicate": flags.dedup_option(dedup, dedup_while),
    }
    given = [
        f"--{name}"
        for name, value in zip(("debounce", "throttle", "dedup"), flow.values(), strict=True)
        if value
    ]
    if len(given) > 1:
        fail(USAGE, f"{' and '.join(given)} cannot be combined: pick one flow-control flag")
    if given and ndjson is not None:
        fail(USAGE, f"{given[0]} applies to one dispatch at a time; drop --ndjson or {given[0]}")
    one = _single_options(flow, job_id, at, ndjson)
    conc_key, conc_limit = flags.concurrency_option(concurrency_key)
    options: dict[str, Any] = {
        "delay": delay,
        "priority": priority,
        "ttl": flags.ttl_option(ttl, on_expire),
        "concurrency_key": conc_key,
        "concurrency_limit": conc_limit,
        "skip_validation": skip_validation,
    }
    items = _read_ndjson(ndjson) if ndjson is not None else None
    payload = _read_data(data) if items is None else None
    app = load_app(load(config))
    try:
        if items is not None:
            handles = app.dispatch_many(task, items, **options)
            if as_json:
                print_json([documents.dispatched(handle) for handle in handles])
            else:
                for handle in handles:
                    _print_dispatched(handle, as_json=False)
            return
        handle = app.dispatch(task, payload, **options, **one)
        if not handle.enqueued:
            _print_dispatched(handle, as_json)
            _rejected(handle, allow_reject)
        elif not wait:
            _print_dispatched(handle, as_json)
        else:
            _wait_and_print(handle, timeout_s, as_json, raw)
    finally:
        app.close()


def _single_options(
    flow: dict[str, Any], job_id: str | None, at: str | None, ndjson: str | None
) -> dict[str, Any]:
    """The options only a single dispatch takes: flow control, --id and --at."""
    for flag, value in (("--id", job_id), ("--at", at)):
        if value is not None and ndjson is not None:
            fail(USAGE, f"{flag} applies to one dispatch at a time; drop --ndjson or {flag}")
    one: dict[str, Any] = {k: v for k, v in flow.items() if v}
    if job_id is not None:
        one["job_id"] = job_id
    if at is not None:
        from ..dispatch_options import parse_moment

        one["run_at"] = parse_moment(at, what="--at")
    return one


def _rejected(handle: JobHandle, allow_reject: bool) -> None:
    if handle.reason == "duplicate" and handle.existing_id == handle.id:
        why = f"a job with id {handle.id} already exists"
    elif handle.reason == "duplicate":
        why = f"deduplicated: job {handle.existing_id} holds the key and is still pending"
    elif handle.reason == "throttled":
        wait_s = handle.retry_after or 0
        why = f"throttled: the key accepts another in {wait_s:g}s"
    else:
        why = f"a job with id {handle.id} already exists"
    message = f"dispatch of {handle.task!r} rejected, {why}"
    if allow_reject:
        error_line(message)
        return
    fail(JOB_FAILED, message)


def _print_dispatched(handle: JobHandle, as_json: bool) -> None:
    if as_json:
        print_json(documents.dispatched(handle))
    elif handle.enqueued or handle.existing_id:  # a duplicate: the job to wait on instead
        print(handle.id if handle.enqueued else handle.existing_id, flush=True)


def _wait_and_print(
    handle: JobHandle, timeout_s: float | None, as_json: bool, raw: bool = False
) -> None:
    from ..errors import JobError, JobFailedError
    from ..remote_error import issues_as_dicts

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
                if exc.issues:
                    error["issues"] = issues_as_dicts(exc.issues)
            print_json(
                {"id": handle.id, "task": handle.task, "state": _state_of(exc), "error": error}
            )
        raise
    if as_json:
        print_json({"id": handle.id, "task": handle.task, "state": "completed", "result": result})
    elif raw and isinstance(result, str):
        print(result, flush=True)
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
    except RecursionError:
        fail(USAGE, "--data is nested too deeply to be read as JSON; flatten it")
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
        except RecursionError:
            fail(USAGE, f"line {number} is nested too deeply to be read as JSON; nothing was "
                 "dispatched")  # fmt: skip
        except json.JSONDecodeError as exc:
            name = "standard input" if source == "-" else source
            fail(
                USAGE, f"line {number} of {name} is not valid JSON ({exc}); nothing was dispatched"
            )
    return items
