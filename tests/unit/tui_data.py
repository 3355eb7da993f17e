"""Real library records (no stand-ins) for the dashboard's reducer and render tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from taskora_cli.schedule_spec import ScheduleSpec
from taskora_cli.tui.messages import Loaded
from taskora_cli.tui.model import Query, Screen, Snapshot
from taskora_cli.tui.state import State, reduce
from taskora_cli.views.dead_letters import DeadLetter
from taskora_cli.views.inspector import JobInfo, Minute, RemoteError, Stats, TaskStats, Timeline
from taskora_cli.views.queues import QueueInfo
from taskora_cli.views.schedule_manager import ScheduleInfo
from taskora_cli.views.worker_registry import WorkerInfo
from taskora_cli.views.workflows import NodeInfo, WorkflowInfo

NOW = 1_767_225_600_000  # 2026-01-01 00:00:00 UTC


def at(seconds_ago: float) -> datetime:
    return datetime.fromtimestamp(NOW / 1000 - seconds_ago, tz=UTC)


def job(
    job_id: str,
    task: str = "send-email",
    state: str = "waiting",
    *,
    data: Any = None,
    result: Any = None,
    error: RemoteError | None = None,
    attempt: int = 0,
    progress: Any = None,
    logs: list[dict[str, Any]] | None = None,
    ago: float = 5.0,
) -> JobInfo:
    started = at(ago - 1) if state != "waiting" else None
    finished = at(ago - 3) if state in ("completed", "failed", "cancelled", "expired") else None
    return JobInfo(
        id=job_id,
        task=task,
        state=state,
        data=data,
        result=result,
        error=error,
        attempt=attempt,
        priority=0,
        progress=progress,
        stalls=0,
        cancel_reason=None,
        timeline=Timeline(at(ago), started, finished, None),
        logs=logs or [],
    )


def boom(message: str = "boom", kind: str = "ValueError") -> RemoteError:
    trace = f'Traceback (most recent call last):\n  File "tasks.py", line 9\n{kind}: {message}\n'
    return RemoteError(kind, message, trace)


def letter(
    job_id: str, task: str = "send-email", message: str = "boom", ago: float = 60.0
) -> DeadLetter:
    return DeadLetter(job_id, task, int(NOW - ago * 1000), 3, "ValueError", message)


def task_stats(task: str, **counts: Any) -> TaskStats:
    return TaskStats(task, **counts)


def stats(*tasks: TaskStats) -> Stats:
    names = ("waiting", "delayed", "active", "completed", "failed", "expired", "cancelled")
    sums = {name: sum(getattr(t, name) for t in tasks) for name in names}
    latencies = [t.latency for t in tasks if t.latency is not None]
    return Stats(list(tasks), TaskStats("*", **sums, latency=max(latencies, default=None)))


def worker(host: str, pid: int, *, active: int = 1, slots: int = 4, age: float = 1.0) -> WorkerInfo:
    return WorkerInfo(
        id=f"{host}-{pid}",
        host=host,
        pid=pid,
        tasks=["send-email", "resize"],
        queues=["default"],
        slots=slots,
        active=active,
        processed=120,
        failed=3,
        started_ms=NOW - 3_600_000,
        beat_ms=int(NOW - age * 1000),
        heartbeat_ms=10_000,
        age=age,
        gone=age > 30,
    )


STATS = stats(
    task_stats("send-email", waiting=3, completed=1200, failed=3, latency=2.5),
    task_stats("resize", active=2, delayed=1, completed=1_500_000, failed=1, cancelled=1),
)
JOBS = [
    job("aaaa1111", data={"to": "ann@example.com"}),
    job("bbbb2222", data={"to": "bob@example.com"}, ago=4),
    job("cccc3333", task="resize", data=[640, 480], ago=3),
]
DEAD = [
    letter("dead0001", message="timeout", ago=10),
    letter("dead0002", ago=20),
    letter("dead0003", task="resize", ago=30),
    letter("dead0004", ago=40),
]
WORKERS = [worker("web-1", 4242), worker("web-2", 977, active=0, age=45.0)]
QUEUES = [
    QueueInfo("default", False, ["send-email"], waiting=3, failed=3, latency=2.5),
    QueueInfo("images", True, ["resize"], delayed=1, active=2, failed=1),
]
# an hour of minutes, oldest first: quiet, then a ramp with one failing minute, then quiet
THROUGHPUT = [
    Minute(at(3600 - 60 * n), completed, 1 if n == 50 else 0)
    for n, completed in enumerate([0] * 40 + [n * 10 for n in range(1, 15)] + [0] * 6)
]
SCHEDULES = [
    ScheduleInfo("digest", ScheduleSpec("send-email", every_ms=30_000), False, NOW + 12_000,
                 NOW - 18_000, "digest@1", "send-email", 0, False, NOW - 86_400_000),
    ScheduleInfo("nightly", ScheduleSpec("resize", cron="0 2 * * *", timezone="Europe/Berlin"),
                 True, NOW + 7_200_000, None, None, None, 3, False, NOW - 86_400_000),
]  # fmt: skip
OUTCOMES = {"digest": "completed"}
WORKFLOWS = [
    WorkflowInfo("wf-run", "fan", "running", NOW - 5_000, None, 3, 1, [
        NodeInfo(0, "send-email", "wf-run.0", "completed"),
        NodeInfo(1, "resize", "wf-run.1", "active", [0]),
        NodeInfo(2, "resize", "wf-run.2", "waiting", [0]),
        NodeInfo(3, "send-email", "wf-run.3", "pending", [1, 2]),
    ]),
    WorkflowInfo("wf-done", "resize", "completed", NOW - 60_000, NOW - 30_000, 1, 1, [
        NodeInfo(0, "resize", "wf-done.0", "completed"),
    ], result=3),
]  # fmt: skip
SERVER = {"server": "valkey", "version": "9.0.0", "used_memory": "1.5M", "clients": "7"}


def snapshot(screen: Screen, state: str = "waiting", **fields: Any) -> Snapshot:
    return Snapshot(Query(screen, state=state), NOW, stats=STATS, **fields)


def loaded(state: State, snap: Snapshot) -> State:
    return reduce(state, Loaded(snap))[0]


def on(screen: Screen, rows: int = 20, **fields: Any) -> State:
    """A state on ``screen`` with that screen's data loaded."""
    data: dict[Screen, dict[str, Any]] = {
        Screen.OVERVIEW: {
            "server": SERVER,
            "workers": WORKERS,
            "queues": QUEUES,
            "throughput": THROUGHPUT,
        },
        Screen.JOBS: {"jobs": JOBS},
        Screen.DEAD: {"dead": DEAD},
        Screen.WORKERS: {"workers": WORKERS},
        Screen.SCHEDULES: {"schedules": SCHEDULES, "outcomes": OUTCOMES},
        Screen.WORKFLOWS: {"workflows": WORKFLOWS},
    }
    start = replace(State(screen=screen, rows=rows), **fields)
    return loaded(start, snapshot(screen, start.tab, **data.get(screen, {})))
