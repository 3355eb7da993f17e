"""``taskora schedules ls|show|next|add|update|pause|resume|trigger|rm``: the schedules on the
server."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import USAGE, confirm, fail, opened_app, print_json, print_table
from .options import ConfigOption, JsonOption, WideOption

if TYPE_CHECKING:
    from ..views.schedule_manager import ScheduleInfo

app = typer.Typer(
    help="The schedules on the server: list, inspect, add, update, pause, resume, trigger, "
    "remove. Workers "
    "store the schedules declared in code and [schedules.NAME] when they start.",
    no_args_is_help=True,
)

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="The schedule's name.")]


@app.command("ls")
def ls(as_json: JsonOption = False, wide: WideOption = False, config: ConfigOption = None) -> None:
    """List every schedule: its task, timing, next and last run, and whether it is paused."""
    with opened_app(config) as tk:
        found = tk.schedules().list()
    if as_json:
        print_json([info.as_dict() for info in found])
    elif not found:
        print("no schedules (workers store the declared ones when they start)")
    else:
        rows = [
            (i.name, i.spec.task, "paused" if i.paused else "active", _when(i.next_run_ms),
             _when(i.last_run_ms, due=False), i.last_job_id or "-", i.spec.describe())
            for i in found
        ]  # fmt: skip
        print_table(("NAME", "TASK", "STATE", "NEXT", "LAST", "LAST JOB", "WHEN"), rows, wide=wide)


@app.command("show")
def show(
    name: NameArgument,
    as_json: JsonOption = False,
    wide: WideOption = False,
    config: ConfigOption = None,
) -> None:
    """Everything stored about one schedule."""
    with opened_app(config) as tk:
        info = tk.schedules().get(name)
    if as_json:
        print_json(info.as_dict())
        return
    _print_info(info, wide)


@app.command("next")
def next_runs(
    name: NameArgument,
    count: Annotated[
        int, typer.Option("--limit", "-n", "--count", min=1, max=1000, help="How many.")
    ] = 5,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """The upcoming fire times, in the schedule's time zone and in UTC."""
    from datetime import UTC

    with opened_app(config) as tk:
        info = tk.schedules().get(name)
        times = tk.schedules().upcoming(name, count)
    if as_json:
        print_json(
            [{"at": t.isoformat(timespec="seconds"),
              "utc": t.astimezone(UTC).isoformat(timespec="seconds"),
              "ms": int(t.timestamp() * 1000)} for t in times]
        )  # fmt: skip
        return
    if info.paused:
        print(f"{name} is paused; when resumed it fires at:", file=sys.stderr)
    if info.spec.timezone == "UTC":
        print_table(("UTC",), [(t.isoformat(timespec="seconds"),) for t in times])
        return
    rows = [
        (t.isoformat(timespec="seconds"), t.astimezone(UTC).isoformat(timespec="seconds"))
        for t in times
    ]
    print_table((info.spec.timezone, "UTC"), rows)


TaskFlag = Annotated[
    str | None,
    typer.Option("--task", "-t", help="The task each fire dispatches.", show_default=False),
]
EveryFlag = Annotated[
    str | None,
    typer.Option(help='Fire at this interval, e.g. "5m", "1h" (not with --cron).',
                 show_default=False),
]  # fmt: skip
CronFlag = Annotated[
    str | None,
    typer.Option(help='Fire on this cron expression, e.g. "0 9 * * MON-FRI" (not with --every).',
                 show_default=False),
]  # fmt: skip
DataFlag = Annotated[
    str | None,
    typer.Option("--data", "-d", help="Each fire's data: inline JSON, @file.json or @- (stdin).",
                 show_default=False),
]  # fmt: skip
TimezoneFlag = Annotated[
    str | None,
    typer.Option(help='The IANA zone of --cron, e.g. "Europe/Berlin" (default UTC).',
                 show_default=False),
]  # fmt: skip
OnMissedFlag = Annotated[
    str | None,
    typer.Option("--on-missed", help="skip, catch-up or catch-up-limit:N: what a late scheduler "
                 "does with fires it missed (default skip).", show_default=False),
]  # fmt: skip
OverlapFlag = Annotated[
    bool | None,
    typer.Option("--overlap/--no-overlap", help="Fire even while the previous run's job is "
                 "unfinished (default: no).", show_default=False),
]  # fmt: skip


def _options(
    every: str | None,
    cron: str | None,
    data: str | None,
    timezone: str | None,
    on_missed: str | None,
    overlap: bool | None,
) -> dict[str, Any]:
    """The schedule options given on the command line (the rest are left out)."""
    from .dispatch_job import _read_data

    given: dict[str, Any] = {"every": every, "cron": cron, "timezone": timezone}
    given |= {"on_missed": on_missed, "overlap": overlap}
    options = {name: value for name, value in given.items() if value is not None}
    if data is not None:
        options["data"] = _read_data(data)
    return options


@app.command("add")
def add(
    name: NameArgument,
    task: TaskFlag = None,
    every: EveryFlag = None,
    cron: CronFlag = None,
    data: DataFlag = None,
    timezone: TimezoneFlag = None,
    on_missed: OnMissedFlag = None,
    overlap: OverlapFlag = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Store a new schedule on the server; the workers' scheduler fires it. Needs --task and
    one of --every and --cron. An existing name is refused: see `schedules update`."""
    if task is None:
        fail(USAGE, "schedules add needs --task: the task each fire dispatches")
    if (every is None) == (cron is None):
        fail(USAGE, "schedules add needs exactly one of --every and --cron")
    options = _options(every, cron, data, timezone, on_missed, overlap)
    with opened_app(config) as tk:
        info = tk.schedules().add(name, task, **options)
    _done(info, "added", as_json)


@app.command("update")
def update(
    name: NameArgument,
    task: TaskFlag = None,
    every: EveryFlag = None,
    cron: CronFlag = None,
    data: DataFlag = None,
    timezone: TimezoneFlag = None,
    on_missed: OnMissedFlag = None,
    overlap: OverlapFlag = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Change a schedule's options; those not given stay. A new timing (--every, --cron,
    --timezone) moves its next run. A schedule declared in code or TOML gets its declared
    definition back when a worker next starts: change the declaration for lasting changes."""
    if every is not None and cron is not None:
        fail(USAGE, "give --every or --cron, not both")
    options = _options(every, cron, data, timezone, on_missed, overlap)
    if task is not None:
        options["task"] = task
    if not options:
        fail(USAGE, "nothing to change: give --task, --every, --cron, --data, --timezone, "
             "--on-missed or --overlap/--no-overlap")  # fmt: skip
    with opened_app(config) as tk:
        info = tk.schedules().update(name, **options)
    _done(info, "updated", as_json)


@app.command("pause")
def pause(name: NameArgument, as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """Stop firing a schedule until it is resumed."""
    with opened_app(config) as tk:
        info = tk.schedules().pause(name)
    _done(info, "paused", as_json)


@app.command("resume")
def resume(name: NameArgument, as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """Fire a paused schedule again; fire times passed while paused are skipped unless its
    on_missed policy is a catch-up."""
    with opened_app(config) as tk:
        info = tk.schedules().resume(name)
    _done(info, "resumed", as_json)


@app.command("trigger")
def trigger(
    name: NameArgument,
    wait: Annotated[
        bool, typer.Option("--wait", "-w", help="Wait for the job to end; print its result.")
    ] = False,
    timeout: Annotated[
        str | None,
        typer.Option(help='With --wait: give up after this long (exit 124), e.g. "30s".'),
    ] = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Dispatch the schedule's job now; its next run stays where it is."""
    from ..durations import to_seconds
    from .dispatch_job import _print_dispatched, _wait_and_print

    if timeout is not None and not wait:
        fail(USAGE, "--timeout only applies with --wait")
    timeout_s = to_seconds(timeout, what="--timeout") if timeout is not None else None
    with opened_app(config) as tk:
        handle = tk.schedules().trigger(name)
        if wait:
            _wait_and_print(handle, timeout_s, as_json)
        else:
            _print_dispatched(handle, as_json)


@app.command("rm")
def rm(
    name: NameArgument,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Do not ask for confirmation (needed without a TTY)."),
    ] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Remove a schedule (jobs it dispatched stay). A schedule still declared in code or TOML
    comes back when a worker next starts: remove the declaration too."""
    if not (yes or sys.stdin.isatty()):
        fail(USAGE, f"schedules rm deletes {name!r} and stdin is not a terminal to confirm on; "
             "pass --yes")  # fmt: skip
    with opened_app(config) as tk:
        manager = tk.schedules()
        manager.get(name)  # an unknown name fails before the question
        if not (yes or confirm(f"Remove schedule {name!r}?")):
            print_json({"name": name, "removed": False}) if as_json else print(f"kept {name}")
            return
        manager.remove(name)
    print_json({"name": name, "removed": True}) if as_json else print(f"removed {name}")


def _done(info: ScheduleInfo, verb: str, as_json: bool) -> None:
    if as_json:
        print_json(info.as_dict())
    else:
        print(f"{verb} {info.name}; next run {_when(info.next_run_ms)}")


def _print_info(info: ScheduleInfo, wide: bool) -> None:
    from ..cron import zone
    from ..views.schedule_manager import iso

    where = zone(info.spec.timezone)
    rows = [
        ("task", info.spec.task),
        ("when", info.spec.describe()),
        ("state", "paused" if info.paused else "active"),
        ("next run", f"{iso(info.next_run_ms, where)} ({_relative(info.next_run_ms)})"),
        (
            "last run",
            "-"
            if info.last_run_ms is None
            else f"{iso(info.last_run_ms, where)} ({_relative(info.last_run_ms, due=False)})",
        ),
        ("last job", info.last_job_id or "-"),
        ("on missed", info.spec.on_missed),
        ("overlap", "allowed" if info.spec.overlap else "skip while the last job runs"),
        ("skipped", str(info.skipped)),
        ("data", _json(info.spec.data)),
    ]
    if info.pending:
        rows.append(("pending", "a fire's job is being enqueued"))
    print_table(("FIELD", "VALUE"), rows, wide=wide)


def _json(value: object) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def _when(ms: int | None, *, due: bool = True) -> str:
    """An epoch-ms time as UTC to the second, with how far away it is; ``due`` says it is a
    next run (one in the past is overdue), else a past event ("ago")."""
    if ms is None:
        return "-"
    from ..views.schedule_manager import iso

    return f"{iso(ms)} ({_relative(ms, due=due)})"


def _relative(ms: int, *, due: bool = True) -> str:
    """ "in 5m" for a time ahead; behind, "overdue 3s" for a next run, "3s ago" otherwise."""
    ahead_ms = ms - int(time.time() * 1000)
    if ahead_ms > 0:
        return f"in {_span(-(-ahead_ms // 1000))}"  # rounded up: "in 0s" would read as now
    span = _span(-ahead_ms // 1000)
    return f"overdue {span}" if due else f"{span} ago"


def _span(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
