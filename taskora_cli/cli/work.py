"""``taskora work``: run worker processes for the configured tasks."""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import USAGE, ConfigOption, fail, load, load_app, print_json
from .work_limits import check_sizes

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..app import Taskora
    from ..config import Config
    from ..task import Task
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
            help="Jobs of each task one process runs at once (tasks that set their own "
            "concurrency keep it); at most 10,000 without --force. Default: [worker] "
            "concurrency, else [defaults] concurrency.",
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
    from .banner import print_banner
    from .joblog import JobLog, setup_logging

    if as_json and not (burst or max_jobs):
        fail(USAGE, "--json prints a summary when the worker exits by itself; add --burst or "
             "--max-jobs")  # fmt: skip
    overrides = {"worker.concurrency": concurrency, "worker.processes": processes}
    cfg = load(config, {**overrides, "worker.grace": grace})  # --grace lands in worker.grace_ms
    if worker_id is None:  # a supervised child: its supervisor checked (and warned) already
        check_sizes(cfg.worker.processes, cfg.worker.concurrency, force=force)
    app = load_app(cfg)
    queues = _parse_queues(queue) if queue else dict[str, int | None](cfg.worker.queues)
    chosen, slots = select_tasks(app, task or [], queues, cfg)
    setup_logging(log_format.value)
    child = worker_id is not None
    if as_json and (cfg.worker.processes > 1 or reload):
        fail(USAGE, "--json summarises one worker process; drop --processes and --reload")
    if not child and (cfg.worker.processes > 1 or reload):

        def banner() -> None:
            print_banner(app, cfg, chosen, slots, processes=cfg.worker.processes, reload=reload)

        _supervise(app, cfg, chosen, reload=reload, burst=burst, banner=banner, passthrough=(
            _passthrough(cfg, concurrency, queue, task, burst, max_jobs, grace, log_format.value)
        ))  # fmt: skip
        return
    import asyncio

    from ..worker.pool import Worker
    from ..worker.serve import StopWhen, exit_if_threads_linger, serve
    from ..worker.supervisor import DRAINED_EXIT, STUCK_EXIT

    worker = Worker(
        app, chosen, concurrency=cfg.worker.concurrency, slots=slots, worker_id=worker_id
    )
    JobLog(log_format.value).attach(worker)
    when = StopWhen(drained=burst, max_jobs=max_jobs, parent_pid=supervisor_pid)
    began = time.monotonic()

    async def run() -> bool:
        await app.connect()  # unreachable: the one-line error, not a banner and then the error
        if not child:
            print_banner(app, cfg, chosen, slots, processes=1)
        return await serve(worker, cfg.worker.grace_ms, when)

    abandoned = asyncio.run(run())
    if as_json:
        print_json(_summary(worker, time.monotonic() - began))
    # drained by an operator: a supervisor must not restart this child; alone, that is success
    code = DRAINED_EXIT if child and worker.drain_requested.is_set() else 0
    if worker.left_stuck:
        code = STUCK_EXIT  # a supervisor (or systemd) starts a fresh process: fresh threads
    exit_if_threads_linger(worker, abandoned, code)
    if code:
        raise typer.Exit(code)


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


def select_tasks(
    app: Taskora, names: list[str], queues: dict[str, int | None], cfg: Config
) -> tuple[list[Task], dict[str, int]]:
    """The tasks to serve and their per-task slots, from --task and the queues."""
    tasks = app.registry.to_run(names)
    if not tasks and cfg.app:
        fail(USAGE, f"no tasks to run: the app {cfg.app} has none; list the modules that add "
             "tasks to it in `modules`")  # fmt: skip
    if not tasks:
        where = f" in {cfg.path}" if cfg.path else " (no config file found)"
        fail(USAGE, f"no tasks to run: `modules`{where} lists no module that defines a task; "
             "add one (e.g. modules = [\"app.tasks\"]) or pass --config")  # fmt: skip
    if not queues:
        return tasks, {}
    known = sorted({t.options.queue for t in app.tasks.values()})
    unknown = [q for q in queues if q not in known]
    if unknown:
        fail(USAGE, f"unknown queue {unknown[0]!r}; the tasks' queues are: {', '.join(known)}")
    tasks = [t for t in tasks if t.options.queue in queues]
    if not tasks:
        fail(USAGE, "no task matches both --task and --queue")
    slots = {t.name: n for t in tasks if (n := queues[t.options.queue]) is not None}
    return tasks, slots


def _passthrough(
    cfg: Config,
    concurrency: int | None,
    queue: list[str] | None,
    task: list[str] | None,
    burst: bool,
    max_jobs: int | None,
    grace: str | None,
    log_format: str,
) -> list[str]:
    args = ["--log-format", log_format]
    if cfg.path is not None:
        args += ["--config", str(cfg.path)]
    if concurrency is not None:
        args += ["--concurrency", str(concurrency)]
    for value in queue or []:
        args += ["--queue", value]
    for name in task or []:
        args += ["--task", name]
    if burst:
        args.append("--burst")
    if max_jobs is not None:
        args += ["--max-jobs", str(max_jobs)]
    if grace is not None:
        args += ["--grace", grace]
    return args


def _supervise(
    app: Taskora,
    cfg: Config,
    tasks: list[Task],
    *,
    reload: bool,
    burst: bool,
    banner: Callable[[], None],
    passthrough: list[str],
) -> None:
    import asyncio

    from ..worker.supervisor import Supervisor

    names = [t.name for t in tasks]

    async def recover(worker_id: str) -> int:
        return await app.arelease_worker(worker_id, names)

    async def run() -> int:
        await app.connect()  # reach the server (or start the embedded one) before the children
        banner()  # after: an unreachable server is one line, not a banner and then the error
        try:
            supervisor = Supervisor(
                [sys.executable, "-m", "taskora_cli", *_app_flag(cfg), "work", *passthrough],
                cfg.worker.processes,
                recover,
                restart_clean_exits=not burst,
                watch=_watched(cfg) if reload else None,
            )
            return await supervisor.run()
        finally:
            await app.aclose()

    code = asyncio.run(run())
    if code:
        raise typer.Exit(code)


def _app_flag(cfg: Config) -> list[str]:
    # A global option: it goes before the command.
    return ["--app", cfg.app] if cfg.sources.get("app") == "flag" and cfg.app else []


def _watched(cfg: Config) -> list[Path]:
    paths = {cfg.root}
    if cfg.path is not None:
        paths.add(cfg.path.parent)
    return sorted(paths)
