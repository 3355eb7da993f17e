"""``taskora work``: run worker processes for the configured tasks."""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import USAGE, error_line, fail, load, load_app, print_json
from .options import ConfigOption

if TYPE_CHECKING:
    from ..app import Taskora
    from ..config import Config
    from ..worker.pool import Worker


class LogFormat(StrEnum):
    text = "text"
    json = "json"


def work(
    config: ConfigOption = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            help="Jobs of each task one process runs at once, also of tasks whose code sets "
            "concurrency= (this flag wins; --queue NAME=N wins over it); at most 10,000 "
            "without --force. Default: the task's own, else [worker] concurrency, else "
            "[defaults] concurrency.",
            show_default=False,
        ),
    ] = None,
    processes: Annotated[
        int | None,
        typer.Option(
            "--processes",
            "-p",
            min=1,
            help="Worker processes to run, supervised: one that dies is restarted and its jobs "
            "go back to the queue at once. More than the CPUs warns; more than 4 per CPU (at "
            "least 64) is refused without --force. Default: [worker] processes, else 1.",
            show_default=False,
        ),
    ] = None,
    queue: Annotated[
        list[str] | None,
        typer.Option(
            "--queue",
            "-q",
            help="Serve only the tasks of queue NAME; NAME=N gives each of them N slots, so "
            "short jobs never wait behind long ones. Repeatable. Default: [worker.queues], "
            "else every queue.",
            metavar="NAME[=N]",
            show_default=False,
        ),
    ] = None,
    task: Annotated[
        list[str] | None,
        typer.Option(
            "--task",
            "-t",
            help="Serve only this task. Repeatable.",
            metavar="NAME",
            show_default=False,
        ),
    ] = None,
    burst: Annotated[
        bool,
        typer.Option(
            "--burst", help="Run the jobs that are ready, then exit 0 (for cron wrappers)."
        ),
    ] = False,
    reload: Annotated[
        bool,
        typer.Option(
            "--reload", help="Restart the workers when a task module or the config changes."
        ),
    ] = False,
    max_jobs: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Run this many jobs (it claims no more, prefetch included), then exit 0 "
            "(with --processes, the process is replaced by a fresh one).",
            show_default=False,
        ),
    ] = None,
    grace: Annotated[
        str | None,
        typer.Option(
            help="On SIGTERM/Ctrl-C, how long running jobs may finish before they are handed "
            'back to the queue, e.g. "30s". A second signal stops at once. Default: [worker] '
            "grace, else 30s.",
            show_default=False,
        ),
    ] = None,
    log_format: Annotated[
        LogFormat,
        typer.Option(help="Job lines on stderr: text, or one JSON object per line."),
    ] = LogFormat.text,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="With --burst or --max-jobs: on exit, print a summary on stdout as one JSON "
            "document: jobs run, completed, failed, duration_s (one process only).",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Start more --processes or --concurrency than the caps."),
    ] = False,
    worker_id: Annotated[str | None, typer.Option(hidden=True)] = None,
    supervisor_pid: Annotated[int | None, typer.Option(hidden=True)] = None,
) -> None:
    """Run workers for the tasks in the configured modules, until SIGTERM or Ctrl-C."""
    from ..worker.launch import WorkHooks, WorkOptions, run
    from .banner import print_banner
    from .joblog import JobLog, setup_logging

    if as_json and not (burst or max_jobs):
        fail(USAGE, "--json prints a summary when the worker exits by itself; add --burst or "
             "--max-jobs")  # fmt: skip
    overrides = {"worker.concurrency": concurrency, "worker.processes": processes}
    cfg = load(config, {**overrides, "worker.grace": grace})  # --grace lands in worker.grace_ms
    options = WorkOptions(
        tasks=tuple(task or ()), queues=_parse_queues(queue) if queue else None,
        concurrency=concurrency, processes=processes, grace=grace, burst=burst,
        max_jobs=max_jobs, reload=reload, force=force, worker_id=worker_id,
        supervisor_pid=supervisor_pid,
    )  # fmt: skip
    app = load_app(cfg)
    _check_has_tasks(app, task or [], cfg)
    setup_logging(log_format.value)
    if as_json and (cfg.worker.processes > 1 or reload):
        fail(USAGE, "--json summarises one worker process; drop --processes and --reload")
    began = time.monotonic()

    def serving(worker: Worker) -> None:
        nonlocal began
        JobLog(log_format.value).attach(worker)
        began = time.monotonic()

    def finished(worker: Worker) -> None:
        if as_json:
            print_json(_summary(worker, time.monotonic() - began))

    hooks = WorkHooks(
        warn=_warn, ready=lambda plan: print_banner(app, cfg, plan), serving=serving,
        finished=finished, child_args=("--log-format", log_format.value),
    )  # fmt: skip
    code = run(app, options, hooks)
    if code:
        raise typer.Exit(code)


def _warn(text: str) -> None:
    error_line(f"warning: {text}")
    sys.stderr.flush()


def _summary(worker: Worker, seconds: float) -> dict[str, Any]:
    """What a --burst or --max-jobs run did: attempts run, how they ended, how long it took."""
    return {
        "jobs": worker.processed,
        "completed": worker.processed - worker.failed,
        "failed": worker.failed,
        "duration_s": round(seconds, 3),
    }


def _parse_queues(values: list[str]) -> dict[str, int | None]:
    queues: dict[str, int | None] = {}
    for value in values:
        name, sep, count = value.partition("=")
        if not name or (sep and not count.isdigit()) or (sep and int(count) < 1):
            fail(USAGE, f"--queue {value!r}: write NAME or NAME=N with N a whole number >= 1")
        queues[name] = int(count) if sep else None
    return queues


def _check_has_tasks(app: Taskora, names: list[str], cfg: Config) -> None:
    """Say which part of the config leaves nothing to run (the launcher checks the rest)."""
    if app.registry.to_run(names):
        return
    if cfg.app:
        fail(USAGE, f"no tasks to run: the app {cfg.app} has none; list the modules that add "
             "tasks to it in `modules`")  # fmt: skip
    where = f" in {cfg.path}" if cfg.path else " (no config file found)"
    fail(USAGE, f"no tasks to run: `modules`{where} lists no module that defines a task; "
         "add one (e.g. modules = [\"app.tasks\"]) or pass --config")  # fmt: skip
