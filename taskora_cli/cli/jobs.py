"""``taskora jobs ls|show|logs|retry|cancel|rm|clean|wait``: look at jobs, stop, delete and
clean them, wait for them."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .. import documents
from ..job_state import LISTED_STATES as STATES
from ..job_state import TERMINAL_STATES
from .common import (
    JOB_FAILED,
    MAX_LISTED,
    OK,
    TIMED_OUT,
    USAGE,
    complete_task_name,
    confirm,
    fail,
    load,
    load_app,
    plural,
    print_json,
    print_table,
    shown,
)
from .job_show import find_job, run_show, when
from .options import ConfigOption, JsonOption, WideOption

if TYPE_CHECKING:
    from ..views.inspector import JobInfo

app = typer.Typer(
    help="Look at jobs, cancel, delete and clean them, wait for them.",
    no_args_is_help=True,
)

TaskOption = Annotated[
    str | None,
    typer.Option(
        "--task", "-t", help="Only this task's jobs (default: every known task).",
        autocompletion=complete_task_name, show_default=False,
    ),
]  # fmt: skip
IdArgument = Annotated[str, typer.Argument(metavar="ID", help="The job id.")]


def _summary(job: JobInfo) -> str:
    """The job's outcome in one cell: its error, its cancel reason, its result, or its data."""
    error = job.outcome_error
    if error is not None:
        return f"{error.type or 'Error'}: {error.message}"
    if job.state == "cancelled":
        return f"cancelled: {job.cancel_reason}" if job.cancel_reason else "cancelled"
    return shown(job.result if job.state == "completed" else job.data)


@app.command("ls")
def ls(
    task: TaskOption = None,
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            "-s",
            help=f"Only jobs in this state: {', '.join(STATES)} (default: all).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=MAX_LISTED, help="Show at most N.")
    ] = 50,
    error: Annotated[
        str | None,
        typer.Option(
            "--error",
            "-e",
            help="Only jobs whose error contains this text (any case); --state defaults to "
            "failed. Looks at up to 10,000 jobs per task.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
    wide: WideOption = False,
    config: ConfigOption = None,
) -> None:
    """List jobs: the waiting line in the order workers take it, finished ones newest first."""
    if state is not None and state not in STATES:
        fail(USAGE, f"unknown state {state!r}; use one of {', '.join(STATES)}")
    app = load_app(load(config))
    try:
        inspector = app.inspect()
        known = inspector.tasks()
        if task is not None and task not in known:  # a typo would list "no jobs"
            fail(USAGE, f"unknown task {task!r}; known tasks: {', '.join(known) or 'none'}")
        tasks = [task] if task else known
        jobs: list[JobInfo] = []
        if error is not None:
            jobs = inspector.search(error, task, state or "failed", limit)
            tasks = []
        for name in tasks:
            for wanted in [state] if state else STATES:
                if len(jobs) < limit:
                    jobs += inspector.jobs(name, wanted, limit=limit - len(jobs))
    finally:
        app.close()
    if as_json:
        print_json([documents.job(job) for job in jobs])
    elif not jobs:
        print("no jobs")
    else:
        rows = [
            (j.id, j.task, j.state, str(j.attempt), when(j, "dispatched_at"), _summary(j))
            for j in jobs
        ]
        print_table(("ID", "TASK", "STATE", "ATTEMPT", "DISPATCHED", "SUMMARY"), rows, wide=wide)


@app.command("show")
def show(
    job_id: IdArgument,
    task: TaskOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Everything stored about one job: data, result, error and traceback, timeline, logs."""
    run_show(job_id, task=task, as_json=as_json, config=config)


FOLLOW_POLL_S = 0.5


@app.command("logs")
def logs(
    job_id: IdArgument,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", "-f", help="Keep printing new entries until the job ends (or Ctrl-C)."
        ),
    ] = False,
    task: TaskOption = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the entries as one JSON list; with --follow, one JSON object per entry "
            "and per line (JSON Lines), as they come.",
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Print a job's log entries (from ``ctx.log``), oldest first."""
    app = load_app(load(config))
    try:
        job = find_job(app, job_id, task)
        if as_json and not follow:
            print_json(job.logs)
            return
        shown = _print_new(job.logs, [], as_json)
        while follow and job.state not in TERMINAL_STATES:
            time.sleep(FOLLOW_POLL_S)
            job = find_job(app, job_id, job.task)
            shown = _print_new(job.logs, shown, as_json)
    except KeyboardInterrupt:
        return  # Ctrl-C is how a follow that should not wait for the end stops
    finally:
        app.close()


def _print_new(
    entries: list[dict[str, Any]], shown: list[dict[str, Any]], as_json: bool
) -> list[dict[str, Any]]:
    """Print the entries after those already shown. The log is capped (the oldest entries
    drop out), so the new ones start after the longest run that ends what was shown and
    begins what is read now; two equal entries in a row are both printed."""
    start = 0
    for overlap in range(min(len(shown), len(entries)), 0, -1):
        if entries[:overlap] == shown[len(shown) - overlap :]:
            start = overlap
            break
    for entry in entries[start:]:
        print_json(entry) if as_json else print(_log_line(entry), flush=True)
    return entries


def _log_line(entry: dict[str, Any]) -> str:
    from ..moments import local_text

    when = local_text(entry.get("ts", 0), "%Y-%m-%d %H:%M:%S.%f")
    when = when[:-3] if when[-1:].isdigit() else when  # microseconds -> milliseconds
    parts = [when, f"{entry.get('level', 'info'):<7}", str(entry.get("msg", ""))]
    fields = entry.get("fields") or {}
    parts += [f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in fields.items()]
    return " ".join(parts)


@app.command("retry")
def retry(
    job_id: IdArgument,
    task: TaskOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Run a failed, cancelled or expired job again: it goes to the back of its waiting line
    with a fresh attempt count; its last error stays in its log.

    Exit codes: 0 queued again; 2 no such job, or it is waiting, active or completed.
    """
    app = load_app(load(config))
    try:
        job = find_job(app, job_id, task)
        app.handle(job.task, job_id).retry()
    finally:
        app.close()
    if as_json:
        print_json(documents.job_retried(job_id, job.task, job.state))
    else:
        print(f"{job_id} was {job.state}; waiting again")


@app.command("cancel")
def cancel(
    job_id: IdArgument,
    reason: Annotated[
        str | None, typer.Option(help="Why; stored with the job.", show_default=False)
    ] = None,
    task: TaskOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Cancel a job: a queued one at once; an active one is stopped by its worker.

    Exit codes: 0 cancelled (or being cancelled); 1 the job already ended; 2 no such job.
    """
    from ..errors import JobNotFoundError

    app = load_app(load(config))
    try:
        done = app.cancel(job_id, reason, task=task)
    except JobNotFoundError:
        fail(USAGE, f"no job {job_id} under any known task; check the id")
    finally:
        app.close()
    if as_json:
        print_json(documents.job_cancelled(job_id, done))
    elif done == "cancelled":
        print(f"{job_id} cancelled")
    else:
        print(f"{job_id} cancelling: its worker is stopping it")


@app.command("rm")
def rm(
    job_id: IdArgument,
    task: TaskOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Delete a job for good (data, result, error, logs): a waiting, delayed or finished one.
    A running job is refused: cancel it first (`taskora jobs cancel ID`).

    Exit codes: 0 deleted; 2 no such job, or it is running.
    """
    from ..errors import JobNotFoundError

    app = load_app(load(config))
    try:
        was = app.delete_job(job_id, task=task)
    except JobNotFoundError as exc:
        fail(USAGE, f"{exc}; check the id (`taskora jobs ls` lists them)")
    finally:
        app.close()
    if as_json:
        print_json({"id": job_id, "was": was, "deleted": True})
    else:
        print(f"{job_id} deleted (it was {was})")


@app.command("clean")
def clean(
    state: Annotated[
        str,
        typer.Option(
            "--state",
            "-s",
            help="Delete jobs that ended in this state: completed, failed, cancelled or expired.",
            show_default=False,
        ),
    ],
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            help='Only jobs that ended longer ago than this, e.g. "7d", "12h".',
            show_default=False,
        ),
    ],
    task: TaskOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what would be deleted; change nothing.")
    ] = False,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Do not ask for confirmation (needed without a TTY)."),
    ] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Delete finished jobs of one state older than a given age, in server-side batches;
    safe to re-run. Asks for confirmation unless --yes or --dry-run.

    Exit codes: 0 done (or nothing matched); 2 a bad flag or unknown task.
    """
    import sys

    from ..durations import to_ms
    from ..views.job_admin import CLEANABLE

    if state not in CLEANABLE:
        fail(USAGE, f"--state: cannot clean {state!r} jobs; use one of {', '.join(CLEANABLE)}")
    to_ms(older_than, what="--older-than")  # a typo fails before anything connects
    if not (yes or dry_run or sys.stdin.isatty()):
        fail(USAGE, "jobs clean deletes many jobs and stdin is not a terminal to confirm on; "
             "pass --yes (or --dry-run to only count)")  # fmt: skip
    app = load_app(load(config))
    try:
        result = app.clean_jobs(state, older_than, task=task, dry_run=True)
        asked = not (yes or dry_run)
        if asked and (
            result.matched == 0 or not confirm(f"Delete {plural(result.matched, f'{state} job')}?")
        ):
            _print_clean(result, as_json, asked=True)
            return
        if not dry_run:
            result = app.clean_jobs(state, older_than, task=task)
    finally:
        app.close()
    _print_clean(result, as_json)


def _print_clean(result: Any, as_json: bool, asked: bool = False) -> None:
    if as_json:
        print_json(result.to_dict())
        return
    what = plural(result.matched, f"{result.state} job")
    if asked:
        print(f"deleted nothing ({what} matched)")
    elif result.dry_run:
        print(f"would delete {what} (dry run: nothing changed)")
    else:
        print(f"deleted {plural(result.deleted, f'{result.state} job')}")
    for name, n in sorted(result.by_task.items()):
        print(f"  {name}: {n}")


@app.command("wait")
def wait(
    job_ids: Annotated[list[str], typer.Argument(metavar="ID...", help="The jobs to wait for.")],
    timeout: Annotated[
        str | None,
        typer.Option(help='Give up after this long, e.g. "30s" (exit 124).', show_default=False),
    ] = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Wait for jobs to end; print one line each (ID and how it ended), or with --json one
    list of {id, task, state, result or error} once all have ended.

    Exit codes as `dispatch --wait`: 0 all completed; 1 one failed, was cancelled or expired;
    124 the timeout passed first (the jobs keep running); 2 an unknown id (nothing waited).
    """
    from ..durations import to_seconds

    timeout_s = to_seconds(timeout, what="--timeout") if timeout is not None else None
    app = load_app(load(config))
    try:
        handles = [app.handle(find_job(app, job_id, None).task, job_id) for job_id in job_ids]
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        ended = [_wait_one(handle, deadline, as_json) for handle in handles]
    finally:
        app.close()
    if as_json:
        print_json([line for line, _ in ended])
    codes = [code for _, code in ended]
    code = TIMED_OUT if TIMED_OUT in codes else max(codes)
    if code != OK:
        raise typer.Exit(code)


def _wait_one(handle: Any, deadline: float | None, as_json: bool) -> tuple[dict[str, Any], int]:
    from ..errors import JobError

    left = None if deadline is None else max(0.0, deadline - time.monotonic())
    line: dict[str, Any] = {"id": handle.id, "task": handle.task}
    code = OK
    try:
        line |= {"state": "completed", "result": handle.result(timeout=left)}
    except TimeoutError:
        line["state"], code = "timeout", TIMED_OUT
    except JobError as exc:
        from .dispatch_job import _state_of

        line |= {"state": _state_of(exc), "error": str(exc)}
        code = JOB_FAILED
    if not as_json:  # people see each job as it ends; --json is one list at the end
        failure = f" — {line['error']}" if line["state"] == "failed" else ""
        print(f"{handle.id} {line['state']}{failure}", flush=True)
    return line, code
