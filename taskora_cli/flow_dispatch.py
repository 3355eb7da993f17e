"""Route a flow-controlled dispatch to its engine call, and word its rejection."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .durations import format_ms
from .engine import flow as scripts
from .errors import DispatchRejectedError, DuplicateJobError, ThrottledError
from .flow import Debounce, Deduplicate, FlowControl, Throttle

if TYPE_CHECKING:
    from .engine.engine import Engine
    from .engine.records import Admission, NewJob


async def admit(
    engine: Engine, task: str, job: NewJob, flow: FlowControl, now_ms: int
) -> Admission:
    """Enqueue ``job`` under ``flow``; the Admission says whether it was accepted."""
    if isinstance(flow, Deduplicate):
        return await scripts.enqueue_deduplicated(engine, task, job, flow.key, flow.states, now_ms)
    if isinstance(flow, Throttle):
        return await scripts.enqueue_throttled(
            engine, task, job, flow.key, flow.max, flow.window_ms, now_ms
        )
    assert isinstance(flow, Debounce)
    return await scripts.enqueue_debounced(engine, task, job, flow.key, now_ms)


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
