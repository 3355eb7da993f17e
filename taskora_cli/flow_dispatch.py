"""Route a flow-controlled dispatch to its engine call, and word its rejection."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from .durations import format_ms
from .engine import steps
from .errors import DispatchRejectedError, DuplicateJobError, ThrottledError, UsageError
from .flow import Collect, CollectInfo, Debounce, Deduplicate, FlowControl, Throttle
from .handle import JobHandle

if TYPE_CHECKING:
    from .engine.keys import TaskKeys
    from .engine.records import Admission, NewJob
    from .engine.steps import Driver, Steps
    from .runtime import Runtime


class Collected(NamedTuple):
    """One dispatch bound for a collect buffer: its would-be job id, encoded item and key."""

    job_id: str
    payload: str
    key: str


def admit(t: TaskKeys, job: NewJob, flow: FlowControl, now_ms: int) -> Steps[Admission]:
    """Enqueue ``job`` under ``flow``; the Admission says whether it was accepted."""
    if isinstance(flow, Deduplicate):
        return steps.enqueue_deduplicated(t, job, flow.key, flow.states, now_ms)
    if isinstance(flow, Throttle):
        return steps.enqueue_throttled(t, job, flow.key, flow.max, flow.window_ms, now_ms)
    assert isinstance(flow, Debounce)
    return steps.enqueue_debounced(t, job, flow.key, now_ms)


def rejection(
    task: str, job_id: str, flow: FlowControl, admission: Admission
) -> DispatchRejectedError:
    """The error ``throw_on_reject`` raises for a rejected dispatch."""
    if isinstance(flow, Throttle):
        wait_ms = admission.retry_after_ms or 0
        return ThrottledError(
            f"dispatch of {task!r} throttled: key {flow.key!r} already accepted {flow.max} in "
            f"{format_ms(flow.window_ms)}; the next is accepted in {format_ms(wait_ms)}",
            flow.key,
            job_id,
            retry_after=wait_ms / 1000,
        )
    existing = admission.existing_id or ""
    return DuplicateJobError(
        f"dispatch of {task!r} deduplicated: job {existing} holds key "
        f"{getattr(flow, 'key', '')!r} and is still pending",
        getattr(flow, "key", ""),
        job_id,
        existing_id=existing,
    )


def collect(
    runtime: Runtime,
    task: str,
    queue: str,
    items: Sequence[Collected],
    config: Collect,
    now_ms: int,
    driver: Driver,
) -> Steps[list[JobHandle]]:
    """Add items to ``task``'s collect buffers, one call each; the handles are the batch
    jobs they joined."""
    if task not in driver.registered:
        yield from steps.register_tasks(driver.prefix, driver.registered, {task: queue})
    t = driver.keys(task)
    limits = (config.delay_ms, config.max_size, config.max_wait_ms)
    handles = []
    for item in items:
        pushed = steps.collect_push(t, item.job_id, item.payload, item.key, limits, now_ms)
        joined, _, _ = yield from pushed
        handles.append(JobHandle(runtime, task, joined))
    return handles


def check_collects(task: str, config: Collect | None) -> Collect:
    """``config``, or the error of reading the buffer of a task that collects nothing."""
    if config is None:
        raise UsageError(f"task {task!r} has no collect option: there is no buffer to read")
    return config


async def peek_collect(runtime: Runtime, task: str, key: str) -> list[Any]:
    """The items in ``task``'s collect buffer ``key``, oldest first; bad JSON is skipped."""
    engine = await runtime.engine()
    items: list[Any] = []
    for raw in await engine.flow.collect_peek(task, key):
        try:
            items.append(json.loads(raw))
        except ValueError:
            continue
    return items


async def inspect_collect(runtime: Runtime, task: str, key: str) -> CollectInfo | None:
    """Count and times of ``task``'s collect buffer ``key``; None when it is empty."""
    engine = await runtime.engine()
    info = await engine.flow.collect_info(task, key)
    return None if info is None else CollectInfo(*info)
