"""One snapshot per refresh: ``fetch(app, query)`` reads only what the visible screen shows.

Bounded work whatever the queue sizes: the counts (a handful of pipelined LLEN/ZCARD per
task), plus what the visible screen shows: the Overview's queues and per-minute counters (one
HMGET per task), or one page of a list (PAGE jobs per task, the newest DEAD_PAGE dead letters,
the registered workers, up to SCHEDULE_PAGE schedules with their last job's state), or one
job. Nothing walks a whole set and nothing scans the
keyspace, so a task with a million queued jobs costs what a task with ten does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import TaskoraError
from ..job_state import JobState
from .model import (
    DEAD_PAGE,
    PAGE,
    SCHEDULE_PAGE,
    THROUGHPUT_MINUTES,
    WORKFLOW_PAGE,
    Query,
    Screen,
    Snapshot,
)

if TYPE_CHECKING:
    from ..app import Taskora
    from ..views.inspector import JobInfo, Stats

Fetcher = Callable[["Taskora", Query, "Stats"], dict[str, Any]]
"""Reads one screen's data; gets the counts fetch() read for every screen, to reuse them."""


def fetch(app: Taskora, query: Query) -> Snapshot:
    """Read what ``query`` asks for; a failed read (server gone, ...) becomes ``error``."""
    taken = app.clock()
    try:
        stats = app.inspect().stats()
        fields: dict[str, Any] = {"stats": stats}
        fields |= FETCHERS[query.screen](app, query, stats)
    except TaskoraError as exc:  # a gone server is a ServerError: the engine maps every failure
        return Snapshot(query, taken, error=str(exc))
    return Snapshot(query, taken, **fields)


def _overview(app: Taskora, query: Query, stats: Stats) -> dict[str, Any]:
    return {
        "server": app.server_info(),
        "workers": app.workers(),
        "queues": app.queues().list(stats),
        "throughput": app.inspect().throughput(query.task, THROUGHPUT_MINUTES),
    }


def _jobs(app: Taskora, query: Query, stats: Stats) -> dict[str, Any]:
    inspector = app.inspect()
    tasks = [query.task] if query.task else [s.task for s in stats.tasks]
    found = [job for name in tasks for job in inspector.jobs(name, query.state, limit=PAGE)]
    return {"jobs": sorted(found, key=_order(query.state))[:PAGE]}


def _order(state: str) -> Callable[[JobInfo], Any]:
    """How the tasks' pages merge, each in the order its own page has: the waiting line as
    workers take it (higher priority first, then oldest first), delayed by due time, active
    by start, finished ones newest first."""
    if state == JobState.WAITING:
        return lambda job: (-job.priority, job.timeline.ms("dispatched_at") or 0)
    if state == JobState.DELAYED:
        return lambda job: job.timeline.ms("run_at") or 0
    if state == JobState.ACTIVE:
        return lambda job: job.timeline.ms("started_at") or 0
    return lambda job: -(job.timeline.ms("finished_at") or 0)


def _dead(app: Taskora, query: Query, stats: Stats) -> dict[str, Any]:
    return {"dead": app.dead_letters().list(query.task, limit=DEAD_PAGE)}


def _workers(app: Taskora, query: Query, stats: Stats) -> dict[str, Any]:
    return {"workers": app.workers()}


def _schedules(app: Taskora, query: Query, stats: Stats) -> dict[str, Any]:
    found = [s for s in app.schedules().list() if query.task in (None, s.spec.task)]
    ran = [s for s in found[:SCHEDULE_PAGE] if s.last_task and s.last_job_id]

    async def last_states() -> list[str]:  # at once, not one round trip after another
        handles = [app.handle(s.last_task or "", s.last_job_id or "") for s in ran]
        return list(await asyncio.gather(*(handle.astate() for handle in handles)))

    states = app.runtime.call(last_states()) if ran else []
    outcomes = {s.name: state for s, state in zip(ran, states, strict=True)}
    return {"schedules": found[:SCHEDULE_PAGE], "outcomes": outcomes}


def _workflows(app: Taskora, query: Query, stats: Stats) -> dict[str, Any]:
    return {"workflows": app.workflows().list()[:WORKFLOW_PAGE]}


def _job(app: Taskora, query: Query, stats: Stats) -> dict[str, Any]:
    if query.job is None:
        return {}
    task, job_id = query.job
    return {"job": app.inspect().find(job_id, task)}


FETCHERS: dict[Screen, Fetcher] = {
    Screen.OVERVIEW: _overview,
    Screen.JOBS: _jobs,
    Screen.DEAD: _dead,
    Screen.WORKERS: _workers,
    Screen.SCHEDULES: _schedules,
    Screen.WORKFLOWS: _workflows,
    Screen.DETAIL: _job,
}
