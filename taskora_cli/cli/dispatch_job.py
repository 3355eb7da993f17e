"""What ``taskora dispatch`` does with its parsed flags: one implementation, whichever parser
read the command line (typer, in dispatch.py, or the fast path, in fast_path.py). No typer here,
so the fast path never imports it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import flow_flags as flags
from .common import JOB_FAILED, TIMED_OUT, USAGE, error_line, fail, load, load_app, print_json

if TYPE_CHECKING:
    from ..handle import JobHandle


def run_dispatch(
    task: str,
    *,
    data: str | None = None,
    delay: str | None = None,
    at: str | None = None,
    job_id: str | None = None,
    ttl: str | None = None,
    on_expire: str | None = None,
    priority: int = 0,
    debounce: str | None = None,
    throttle: str | None = None,
    dedup: str | None = None,
    dedup_while: str | None = None,
    concurrency_key: str | None = None,
    allow_reject: bool = False,
    wait: bool = False,
    raw: bool = False,
    timeout: str | None = None,
    ndjson: str | None = None,
    skip_validation: bool = False,
    as_json: bool = False,
    config: Path | None = None,
) -> None:
    """Run ``taskora dispatch`` with these flags (see its --help in dispatch.py)."""
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
                from .. import documents

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
        from .. import documents

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
    if not source:
        form = "@FILE, or @- for" if what == "--data" else "FILE, or - for"
        fail(USAGE, f"{what} names no file: give {form} standard input")
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
