"""``taskora dlq ls|retry|retry-all|purge``: the dead-letter queue (jobs that failed for good)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from .. import documents
from .common import (
    MAX_LISTED,
    USAGE,
    complete_task_name,
    confirm,
    fail,
    opened_app,
    plural,
    print_json,
    print_table,
)
from .options import ConfigOption, JsonOption, WideOption

if TYPE_CHECKING:
    from ..views.dead_letters import BulkResult, DeadGroup, DeadLetter

app = typer.Typer(
    help="The dead-letter queue: jobs that failed for good. List, group, retry, purge.",
    no_args_is_help=True,
)

TaskOption = Annotated[
    str | None,
    typer.Option(
        "--task", "-t", help="Only this task's dead letters.", autocompletion=complete_task_name
    ),
]
ErrorMatchOption = Annotated[
    str | None,
    typer.Option(
        "--error-match",
        help='Only jobs whose "ErrorType: message" matches this regular expression.',
        metavar="RE",
        show_default=False,
    ),
]
SinceOption = Annotated[
    str | None,
    typer.Option(help='Only jobs that failed within this long, e.g. "1h".', show_default=False),
]
LimitOption = Annotated[
    int | None,
    typer.Option(min=0, help="Act on at most this many (oldest first).", show_default=False),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Only count what would be done; change nothing.")
]
YesOption = Annotated[
    bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (needed without a TTY).")
]


@app.command("ls")
def ls(
    task: TaskOption = None,
    group: Annotated[
        bool, typer.Option("--group", help="Group by error (type and message), largest first.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=MAX_LISTED, help="Show at most this many.")] = 50,
    as_json: JsonOption = False,
    wide: WideOption = False,
    config: ConfigOption = None,
) -> None:
    """List dead letters, newest first (or grouped by error)."""
    with opened_app(config) as tk:
        dlq = tk.dead_letters()
        if group:
            groups = dlq.groups(task)[:limit]
            if as_json:
                print_json([g.to_dict() for g in groups])
            else:
                _print_groups(groups, wide)
            return
        letters = dlq.list(task, limit=limit)
        if as_json:
            print_json([letter.to_dict() for letter in letters])
        else:
            _print_letters(letters, dlq.count(task), wide)


@app.command("retry")
def retry(
    job_id: Annotated[str, typer.Argument(metavar="ID", help="The dead job's id.")],
    task: TaskOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Retry one dead job: back to its waiting line, attempts reset."""
    from ..errors import JobNotFoundError

    with opened_app(config) as tk:
        try:
            letter = tk.dead_letters().retry(job_id, task)
        except JobNotFoundError as exc:
            fail(USAGE, str(exc))
    if as_json:
        print_json(documents.dead_retried(letter))
    else:
        print(f"retried {letter.id} (task {letter.task}; it died of {_error(letter)})")


@app.command("retry-all")
def retry_all(
    task: TaskOption = None,
    error_match: ErrorMatchOption = None,
    since: SinceOption = None,
    limit: LimitOption = None,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Retry many dead jobs, oldest first, in server-side batches; safe to re-run."""
    _bulk("retry", task, error_match, since, limit, dry_run, yes, as_json, config)


@app.command("purge")
def purge(
    task: TaskOption = None,
    error_match: ErrorMatchOption = None,
    since: SinceOption = None,
    limit: LimitOption = None,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Delete dead jobs for good: their data, error and logs."""
    _bulk("purge", task, error_match, since, limit, dry_run, yes, as_json, config)


def _bulk(
    verb: str,
    task: str | None,
    error_match: str | None,
    since: str | None,
    limit: int | None,
    dry_run: bool,
    yes: bool,
    as_json: bool,
    config: ConfigOption,
) -> None:
    if not (yes or dry_run or sys.stdin.isatty()):
        fail(USAGE, f"dlq {verb} changes many jobs and stdin is not a terminal to confirm on; "
             "pass --yes (or --dry-run to only count)")  # fmt: skip
    with opened_app(config) as tk:
        dlq = tk.dead_letters()
        action = dlq.retry_all if verb == "retry" else dlq.purge

        def run(dry: bool, progress: Callable[[int, int], None] | None = None) -> BulkResult:
            return action(
                task, error_match=error_match, since=since, limit=limit, dry_run=dry,
                progress=progress,
            )  # fmt: skip

        if not (yes or dry_run):
            would = run(dry=True)
            if would.matched == 0 or not confirm(
                f"{verb.capitalize()} {plural(would.matched, 'dead job')}?"
            ):
                _print_bulk(verb, would, as_json, asked=True)
                return
        with _progress(verb, enabled=sys.stderr.isatty() and not dry_run) as report:
            done = run(dry_run, report)
    _print_bulk(verb, done, as_json)


@contextmanager
def _progress(verb: str, enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        job = bar.add_task(verb, total=None)

        def report(looked_at: int, total: int) -> None:
            bar.update(job, completed=looked_at, total=total)

        yield report


def _print_bulk(verb: str, result: BulkResult, as_json: bool, asked: bool = False) -> None:
    if as_json:
        print_json(result.to_dict())
        return
    past = "retried" if verb == "retry" else "purged"
    if asked:
        print(f"{past} nothing ({plural(result.matched, 'dead job')} matched)")
    elif result.dry_run:
        print(f"would {verb} {plural(result.matched, 'dead job')} (dry run: nothing changed)")
    else:
        print(f"{past} {plural(result.done, 'dead job')}")
    for name, n in sorted(result.by_task.items()):
        print(f"  {name}: {n}")


def _error(letter: DeadLetter | DeadGroup) -> str:
    issues = getattr(letter, "issues", ())  # a group has none: its members' fields differ
    if issues:  # name the bad fields, not the prose around them
        return f"{letter.error_type}: " + "; ".join(str(issue) for issue in issues)
    first_line = letter.error_message.splitlines()[0] if letter.error_message else ""
    return f"{letter.error_type}: {first_line}" if first_line else letter.error_type


def _ago(ms: int) -> str:
    seconds = max(0, int(time.time() - ms / 1000))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def _print_letters(letters: list[DeadLetter], total: int, wide: bool) -> None:
    if not letters:
        print("no dead letters")
        return
    rows = [(x.id, x.task, _ago(x.failed_at_ms), str(x.attempts), _error(x)) for x in letters]
    print_table(("ID", "TASK", "FAILED", "ATTEMPTS", "ERROR"), rows, wide=wide)
    if total > len(letters):
        print(f"{len(letters)} of {total} shown (newest first); see --limit")


def _print_groups(groups: list[DeadGroup], wide: bool) -> None:
    if not groups:
        print("no dead letters")
        return
    rows = [(str(g.count), _ago(g.newest_ms), ",".join(g.tasks), _error(g)) for g in groups]
    print_table(("COUNT", "NEWEST", "TASKS", "ERROR"), rows, wide=wide)
