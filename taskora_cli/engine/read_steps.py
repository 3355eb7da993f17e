"""The reads the inspector and the queue manager make (and the queue switch), as operations of
:mod:`.steps`: written once, driven by the async engine (engine/reads.py, engine/control.py)
and by the blocking lean connection alike, so a one-shot ``taskora jobs show`` or ``stats``
answers without redis-py or an event loop.

Replies arrive as RESP gives them (the async Runner turns redis-py's parsed ones back into
that): a hash is a flat ``[field, value, ...]`` list, a set a list of members.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from . import keys as k
from .records import DISPATCHED_FIELD, JobRecord, TaskCounts
from .steps import SendCommand, SendPipeline, Steps

KeysOf = Callable[[str], k.TaskKeys]
"""The keys of a task, by name (a driver's or the engine's cached ``keys``)."""

PER_TASK = 12
"""Commands task_counts sends per task."""


def as_hash(flat: Sequence[Any]) -> dict[str, str]:
    """A hash's fields and values from HGETALL's flat reply."""
    it = iter(flat)
    return dict(zip(it, it, strict=True))


def known_tasks(prefix: str) -> Steps[list[str]]:
    """Every task name ever registered on this server/prefix, sorted."""
    names = yield SendCommand(("HKEYS", k.task_registry_key(prefix)))
    return sorted(names)


def task_queues(prefix: str) -> Steps[dict[str, str]]:
    """Task name -> the queue it was last registered in, for every known task."""
    flat = yield SendCommand(("HGETALL", k.task_registry_key(prefix)))
    return as_hash(flat)


def paused_queues(prefix: str) -> Steps[set[str]]:
    """The names of the paused queues."""
    members = yield SendCommand(("SMEMBERS", k.paused_queues_key(prefix)))
    return set(members)


def worker_orders(prefix: str, worker_id: str) -> Steps[tuple[set[str], bool]]:
    """What worker ``worker_id`` is told now: the paused queues, and whether to drain (one
    round trip: a starting worker reads them before its first claim)."""
    paused, drain = yield SendPipeline(
        (
            ("SMEMBERS", k.paused_queues_key(prefix)),
            ("HEXISTS", k.worker_key(prefix, worker_id), "drain"),
        )
    )
    return set(paused), bool(drain)


def pause_queue(prefix: str, queue: str) -> Steps[bool]:
    """Pause ``queue``; False if it already was."""
    added = yield SendCommand(("SADD", k.paused_queues_key(prefix), queue))
    return int(added) == 1


def resume_queue(prefix: str, queue: str) -> Steps[bool]:
    """Resume ``queue``; False if it was not paused."""
    removed = yield SendCommand(("SREM", k.paused_queues_key(prefix), queue))
    return int(removed) == 1


def task_counts(keys: KeysOf, tasks: Sequence[str], now_ms: int) -> Steps[list[TaskCounts]]:
    """How many jobs each task has in each state, and the age of its oldest waiting job: one
    pipelined round trip, and one more for the ages."""
    if not tasks:
        return []
    commands: list[tuple[Any, ...]] = []
    for task in tasks:
        t = keys(task)
        commands += [("LLEN", t.wait), ("ZCARD", t.prioritized)]
        for key in (t.delayed, t.active, t.completed, t.failed, t.expired, t.cancelled):
            commands.append(("ZCARD", key))
        commands += [
            ("LINDEX", t.wait, -1),  # the front of the line: the oldest of priority 0
            ("ZRANGE", t.prioritized, 0, 0),  # the next prioritized job
            ("SCARD", t.parked_all),  # waiting for a concurrency slot
            ("ZCARD", t.paused),
        ]
    flat = yield SendPipeline(tuple(commands))
    per = PER_TASK
    fronts = [[flat[i * per + 8], *(flat[i * per + 9] or [])] for i in range(len(tasks))]
    ages = yield from _oldest_ages(keys, tasks, fronts, now_ms)
    out = []
    for i, task in enumerate(tasks):
        n = [int(x) for x in flat[i * per : i * per + 8]]
        waiting = n[0] + n[1] + int(flat[i * per + 10])
        paused = int(flat[i * per + 11])
        out.append(TaskCounts(task, waiting, n[2], n[3], n[4], n[5], n[6], n[7], ages[i], paused))
    return out


def _oldest_ages(
    keys: KeysOf, tasks: Sequence[str], fronts: list[list[str | None]], now_ms: int
) -> Steps[list[int | None]]:
    commands = tuple(
        ("HGET", keys(task).job(job_id), DISPATCHED_FIELD)
        for task, ids in zip(tasks, fronts, strict=True)
        for job_id in ids
        if job_id
    )
    stamps = (yield SendPipeline(commands)) if commands else []
    ages: list[int | None] = []
    it = iter(stamps)
    for ids in fronts:
        found = [int(ts) for ts in (next(it) for job_id in ids if job_id) if ts]
        ages.append(max(0, now_ms - min(found)) if found else None)
    return ages


def minute_counts(
    keys: KeysOf, tasks: Sequence[str], minutes: Sequence[int]
) -> Steps[list[tuple[int, int]]]:
    """(completed, failed) in each of ``minutes`` (ms // 60000), summed over ``tasks``."""
    fields = [f"{kind}:{minute}" for minute in minutes for kind in "cf"]
    commands = tuple(("HMGET", keys(task).counts, *fields) for task in tasks)
    rows = (yield SendPipeline(commands)) if commands and fields else []
    sums = [0] * len(fields)
    for row in rows:
        for i, value in enumerate(row):
            if value is not None:
                sums[i] += int(value)
    return [(sums[2 * i], sums[2 * i + 1]) for i in range(len(minutes))]


def find_job(keys: KeysOf, job_id: str, tasks: Sequence[str]) -> Steps[JobRecord | None]:
    """The job ``job_id`` under whichever of ``tasks`` holds it: one pipelined look-up of its
    key per task, never a scan."""
    if not tasks:
        return None
    raws = yield SendPipeline(tuple(("HGETALL", keys(task).job(job_id)) for task in tasks))
    for task, raw in zip(tasks, raws, strict=True):
        if raw:
            return JobRecord.from_hash(task, job_id, as_hash(raw))
    return None


def job_logs(keys: KeysOf, task: str, job_id: str) -> Steps[list[str]]:
    """The job's log entries (JSON strings), oldest first."""
    entries = yield SendCommand(("LRANGE", keys(task).logs(job_id), 0, -1))
    return list(entries)
