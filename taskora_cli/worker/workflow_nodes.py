"""The worker's part in workflows: after settling a node's job, move its workflow on.

A node's job id is ``<workflow id>.<node index>`` (see taskora_cli.workflow_graph), so the
settle loop knows a workflow's job without reading anything more.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from ..workflow import advance, carry_on, fail_node, repair_workflows, trim_workflows
from ..workflow_graph import parse_node_job_id

if TYPE_CHECKING:
    from ..engine.workflows import ReadyNode
    from .host import WorkerHost

log = logging.getLogger("taskora.worker")

TRIES = 3
"""Times a workflow step is tried before the worker gives up on it (and logs it): each step
is idempotent, so trying again is safe."""


async def advance_nodes(
    host: WorkerHost,
    completed: Sequence[tuple[str, str]],
    on_enqueue: Callable[[set[str]], None] | None = None,
) -> None:
    """Completed jobs ((job id, result JSON)) that are workflow nodes move their workflows on:
    one call per workflow for all its nodes, the workflows concurrently (pipelined).
    ``on_enqueue`` hears of the tasks about to get jobs (see enqueue_ready)."""
    by_workflow: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for job_id, result in completed:
        node = parse_node_job_id(job_id)
        if node is not None:
            by_workflow[node[0]].append((node[1], result))
    max_age = host.retention.completed_max_age_ms

    def advancing(workflow_id: str, done: list[tuple[int, str]]) -> Coroutine[Any, Any, None]:
        return _tried(
            host,
            lambda now: advance(host.engine, workflow_id, done, now, max_age, on_enqueue),
            f"workflow {workflow_id}: {len(done)} nodes did not advance",
        )

    await asyncio.gather(*(advancing(wf, done) for wf, done in by_workflow.items()))


async def carry_nodes_on(
    host: WorkerHost,
    carried: Sequence[tuple[str, str, Sequence[ReadyNode]]],
    on_enqueue: Callable[[set[str]], None] | None = None,
) -> None:
    """Acks moved these workflows on (engine.ack_and_advance) and left the rest, each
    (workflow, its state, the ready nodes it handed back): enqueue those nodes, list the
    workflow for retention if it completed; the workflows concurrently. The nodes' enqueue
    time (and so their TTL) is now, not the ack's. (A workflow left half-way: the repair pass
    enqueues ready nodes a worker left.)"""

    def carrying(
        workflow_id: str, state: str, ready: Sequence[ReadyNode]
    ) -> Coroutine[Any, Any, None]:
        return _tried(
            host,
            lambda now: carry_on(host.engine, workflow_id, state, ready, now, on_enqueue),
            f"workflow {workflow_id}: {len(ready)} nodes were not enqueued",
        )

    await asyncio.gather(*(carrying(*one) for one in carried))


async def fail_workflow_node(host: WorkerHost, workflow_id: str, index: int, error: str) -> None:
    """Node ``index`` of ``workflow_id`` failed for good: fail the workflow, cancel the rest."""
    max_age = host.retention.failed_max_age_ms
    await _tried(
        host,
        lambda now: fail_node(host.engine, workflow_id, index, error, now, max_age),
        f"workflow {workflow_id}: node {index} failed but the workflow could not be stopped",
    )


async def _tried(host: WorkerHost, step: Callable[[int], Awaitable[object]], gave_up: str) -> None:
    """Run ``step(now)`` up to TRIES times (each workflow step is idempotent), with the clock
    read anew each time; log ``gave_up`` and the last error if no try worked."""
    for attempt in range(1, TRIES + 1):
        try:
            await step(host.runtime.clock())
            return
        except Exception as exc:
            if attempt == TRIES:
                log.warning("taskora: %s: %s", gave_up, exc)


async def repair_workflows_turn(
    host: WorkerHost, interval_ms: int, suspects: dict[tuple[str, int], int] | None = None
) -> None:
    """Run the workflow repair pass (see taskora_cli.workflow.repair_workflows) and trim the
    ended workflows retention no longer keeps, if no other worker did within the stall
    interval; called from the worker's stall sweep. ``suspects``: the worker's memory of
    nodes found missing, from one pass to the next."""
    try:
        if await host.engine.workflows.take_repair_turn(host.id, interval_ms):
            now = host.runtime.clock()
            repaired = await repair_workflows(
                host.engine,
                now,
                host.retention.completed_max_age_ms,
                grace_ms=interval_ms,
                failed_max_age=host.retention.failed_max_age_ms,
                suspects=suspects,
            )
            if repaired.acted:
                log.info("taskora: moved %d workflow nodes on that a worker left", repaired.acted)
            await trim_workflows(host.engine, host.retention, now)
    except Exception as exc:  # the next sweep tries again
        log.warning("taskora: the workflow repair pass failed: %s", exc)
