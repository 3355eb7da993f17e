"""The worker's part in workflows: after settling a node's job, move its workflow on.

A node's job id is ``<workflow id>.<node index>`` (see taskora_cli.workflow_graph), so the
settle loop knows a workflow's job without reading anything more.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..workflow import advance, fail_node

if TYPE_CHECKING:
    from .host import WorkerHost

log = logging.getLogger("taskora.worker")

TRIES = 3
"""Times a workflow step is tried before the worker gives up on it (and logs it): each step
is idempotent, so trying again is safe."""


async def advance_node(host: WorkerHost, workflow_id: str, index: int, result: str) -> None:
    """Node ``index`` of ``workflow_id`` completed with ``result``: enqueue what it readied."""
    max_age = host.retention.completed_max_age_ms
    for attempt in range(1, TRIES + 1):
        try:
            await advance(host.engine, workflow_id, index, result, host.runtime.clock(), max_age)
            return
        except Exception as exc:
            if attempt == TRIES:
                log.warning("taskora: workflow %s: node %d did not advance: %s",
                            workflow_id, index, exc)  # fmt: skip


async def fail_workflow_node(host: WorkerHost, workflow_id: str, index: int, error: str) -> None:
    """Node ``index`` of ``workflow_id`` failed for good: fail the workflow, cancel the rest."""
    max_age = host.retention.failed_max_age_ms
    for attempt in range(1, TRIES + 1):
        try:
            await fail_node(host.engine, workflow_id, index, error, host.runtime.clock(), max_age)
            return
        except Exception as exc:
            if attempt == TRIES:
                log.warning("taskora: workflow %s: node %d failed but the workflow could not "
                            "be stopped: %s", workflow_id, index, exc)  # fmt: skip
