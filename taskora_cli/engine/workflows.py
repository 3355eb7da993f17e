"""Workflows on the server: the graph stored once per workflow, advanced node by node.

Each call runs one script on the workflow's own hash (tag ``{w:<id>}``) and returns what the
caller must then do in the tasks' slots: enqueue the nodes that became ready (under their
pre-generated job ids, so doing it twice is harmless) or cancel the jobs of a stopped
workflow. Two steps, each on one slot, as the scheduler does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from . import keys as k
from .records import DISPATCHED_FIELD, job_state

if TYPE_CHECKING:
    from .runner import Runner


class NodeSpec(NamedTuple):
    """One node as stored: its task, the nodes it waits for and that wait for it, and its
    bound data (encoded; None when it takes its dependencies' output) and job extra fields."""

    task: str
    deps: Sequence[int]
    dependents: Sequence[int]
    data: str | None
    extra: str = ""
    ttl_ms: int = 0
    """Its task's job TTL, counted from when its job is enqueued (0 = none)."""


class ReadyNode(NamedTuple):
    """A node whose dependencies are all done: enqueue ``data`` as job ``<workflow>.<node>``."""

    node: int
    task: str
    data: str
    extra: str
    ttl_ms: int = 0
    """Its task's job TTL: the job expires this long after its enqueue (0 = never)."""


def ready_nodes(flat: Sequence[Any]) -> list[ReadyNode]:
    """The ready nodes of a script's flat reply ({index, task, data, extra, ttl_ms} each)."""
    return [
        ReadyNode(int(flat[i]), flat[i + 1], flat[i + 2], flat[i + 3], int(flat[i + 4]))
        for i in range(0, len(flat), 5)
    ]


class Glance(NamedTuple):
    """What the repair pass reads first of a workflow: its state (None: it is gone), when it
    last moved on (its creation until a node ended), when its ttl ends it (0 = never) and
    when it ended (0 = still running)."""

    state: str | None
    moved_ms: int
    expire_at_ms: int
    finished_ms: int


class Workflows:
    """Create, advance, fail and cancel workflows; read their stored hashes."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def key(self, workflow_id: str) -> str:
        """The workflow's hash."""
        return k.workflow_key(self.runner.prefix, workflow_id)

    async def create(
        self,
        workflow_id: str,
        name: str,
        nodes: Sequence[NodeSpec],
        outputs: Sequence[int],
        now_ms: int,
        expire_at_ms: int = 0,
    ) -> bool:
        """Store a new workflow (running, its roots queued) and list it; False if one with
        this id exists already. ``expire_at_ms``: when the repair pass cancels it if it still
        runs (0 = never)."""
        # each distinct (task, extra, ttl) is sent once and named by its place in the list
        kinds: dict[tuple[str, str, int], int] = {}
        per_node: list[Any] = []
        for node in nodes:
            kind = (node.task, node.extra, node.ttl_ms)
            place = kinds.get(kind)
            if place is None:
                place = kinds[kind] = len(kinds) + 1
            deps = _joined(node.deps) if node.deps else ""
            after = _joined(node.dependents) if node.dependents else ""
            per_node += [place, deps, after, "" if node.data is None else node.data]
        tasks = json.dumps([list(kind) for kind in kinds], separators=(",", ":"))
        args = [now_ms, name, _joined(outputs), expire_at_ms, len(nodes), tasks, *per_node]
        created = bool(await self.runner.run("workflow_create", [self.key(workflow_id)], args))
        async with self.runner.client.pipeline(transaction=False) as pipe:
            pipe.zadd(k.workflows_key(self.runner.prefix), {workflow_id: now_ms})
            pipe.zadd(k.running_workflows_key(self.runner.prefix), {workflow_id: now_ms})
            await pipe.execute()
        return created

    async def node_done(
        self,
        workflow_id: str,
        results: Sequence[tuple[int, str]],
        now_ms: int,
        max_age_ms: int = -1,
    ) -> tuple[str, list[ReadyNode]]:
        """Mark nodes done with their results ((index, JSON) pairs); returns the workflow's
        state and the nodes to enqueue now (marked ready: :meth:`nodes_enqueued` marks them
        queued after). Called again for the same nodes, it returns those still ready."""
        args: list[Any] = [now_ms, max_age_ms]
        for index, result in results:
            args += [index, result]
        state, flat = await self.runner.run("workflow_node_done", [self.key(workflow_id)], args)
        return str(state), ready_nodes(flat)

    async def node_failed(
        self, workflow_id: str, index: int, error: str, now_ms: int, max_age_ms: int = -1
    ) -> list[tuple[int, str]]:
        """Fail the workflow for node ``index``'s error; returns the (index, task) of the
        ready and queued nodes, whose jobs the caller cancels (if it was stopped already, the
        nodes it cancelled then: a caller sent again cancels them again, harmlessly)."""
        args = [now_ms, index, error, max_age_ms]
        flat = await self.runner.run("workflow_node_failed", [self.key(workflow_id)], args)
        return _pairs(flat)

    async def nodes_enqueued(self, workflow_id: str, nodes: Sequence[int]) -> int:
        """Mark ready nodes queued once their jobs are enqueued, so a job missing later is
        known to be gone, not never enqueued; returns how many it marked."""
        if not nodes:
            return 0
        return int(
            await self.runner.run("workflow_nodes_enqueued", [self.key(workflow_id)], list(nodes))
        )

    async def cancel(
        self, workflow_id: str, reason: str, now_ms: int, max_age_ms: int = -1
    ) -> tuple[str, list[tuple[int, str]]]:
        """Cancel a running workflow; returns its state before the call ("missing" if there
        is none) and the (index, task) of the ready and queued nodes, whose jobs the caller
        cancels."""
        args = [now_ms, reason, max_age_ms]
        state, flat = await self.runner.run("workflow_cancel", [self.key(workflow_id)], args)
        return str(state), _pairs(flat)

    async def read(self, workflow_id: str) -> dict[str, str]:
        """The stored hash of a workflow (empty if there is none)."""
        found: dict[str, str] = await self.runner.client.hgetall(self.key(workflow_id))  # type: ignore[assignment]
        return found

    async def ending(self, workflow_id: str) -> dict[str, str]:
        """How a workflow ended: ``state``, ``result``, ``error``, ``failed_node``, ``reason``
        and ``task`` (the failed node's), without reading its whole graph."""
        key = self.key(workflow_id)
        names = ["state", "result", "error", "failed_node", "reason"]
        values: list[str | None] = await self.runner.client.hmget(key, names)  # type: ignore[assignment]
        found = {name: value for name, value in zip(names, values, strict=True) if value}
        if "failed_node" in found:
            task: str | None = await self.runner.client.hget(key, f"t:{found['failed_node']}")  # type: ignore[assignment]
            if task:
                found["task"] = task
        return found

    async def state(self, workflow_id: str) -> str | None:
        """Just the state of a workflow, or None if there is none."""
        found: str | None = await self.runner.client.hget(self.key(workflow_id), "state")  # type: ignore[assignment]
        return found

    async def node_state(self, workflow_id: str, index: int) -> str | None:
        """Node ``index``'s state (pending, ready, queued, done, failed, cancelled), or None."""
        found: str | None = await self.runner.client.hget(self.key(workflow_id), f"s:{index}")  # type: ignore[assignment]
        return found

    async def ids(self) -> list[str]:
        """Every listed workflow id, newest first (some may have expired: see :meth:`forget`)."""
        found: list[str] = await self.runner.client.zrevrange(  # type: ignore[assignment]
            k.workflows_key(self.runner.prefix), 0, -1
        )
        return found

    async def forget(self, workflow_ids: Sequence[str]) -> None:
        """Drop ids whose workflow is gone (trimmed by retention) from the list."""
        if workflow_ids:
            await self.runner.client.zrem(k.workflows_key(self.runner.prefix), *workflow_ids)

    async def delete(self, workflow_ids: Sequence[str]) -> None:
        """Delete workflows (their hashes, one slot each), then unlist them everywhere: a
        crash in between leaves ids a later call deletes again, never a hash nobody lists."""
        if not workflow_ids:
            return
        async with self.runner.client.pipeline(transaction=False) as pipe:
            for workflow_id in workflow_ids:
                pipe.unlink(self.key(workflow_id))
            await pipe.execute()
        prefix = self.runner.prefix
        async with self.runner.client.pipeline(transaction=False) as pipe:
            for listed in (
                k.workflows_key(prefix),
                k.running_workflows_key(prefix),
                k.completed_workflows_key(prefix),
                k.stopped_workflows_key(prefix),
            ):
                pipe.zrem(listed, *workflow_ids)
            await pipe.execute()

    async def running(self) -> list[str]:
        """Ids of the workflows that may still run, longest idle first (see :meth:`due`)."""
        found: list[str] = await self.runner.client.zrange(  # type: ignore[assignment]
            k.running_workflows_key(self.runner.prefix), 0, -1
        )
        return found

    async def due(self, idle_since_ms: int, limit: int) -> list[str]:
        """Up to ``limit`` running workflows, longest idle first, that the repair pass has not
        seen move on since ``idle_since_ms`` (see keys.running_workflows_key)."""
        found: list[str] = await self.runner.client.zrangebyscore(  # type: ignore[assignment]
            k.running_workflows_key(self.runner.prefix), "-inf", idle_since_ms, 0, limit
        )
        return found

    async def glance(self, workflow_ids: Sequence[str]) -> list[Glance]:
        """What the repair pass needs first of each workflow, without its graph."""
        async with self.runner.client.pipeline(transaction=False) as pipe:
            for workflow_id in workflow_ids:
                pipe.hmget(self.key(workflow_id), "state", "created", "moved", "exp", "finished")
            found = await pipe.execute()
        return [
            Glance(state, int(moved or created or 0), int(exp or 0), int(finished or 0))
            for state, created, moved, exp, finished in found
        ]

    async def look_again(self, at_ms: dict[str, int]) -> None:
        """Rescore running workflows (see :meth:`due`); one that ended meanwhile stays out."""
        if at_ms:
            key = k.running_workflows_key(self.runner.prefix)
            await self.runner.client.zadd(key, at_ms, xx=True)

    async def settle(self, ended: Sequence[tuple[str, str, int]]) -> None:
        """Move ended workflows ((id, state, when it ended)) from the running list to the
        list retention trims them from (completed, or failed and cancelled); one listed
        there already keeps its time (a second settle, by the repair pass say)."""
        if not ended:
            return
        prefix = self.runner.prefix
        completed = {wf: at for wf, state, at in ended if state == "completed"}
        stopped = {wf: at for wf, state, at in ended if state != "completed"}
        async with self.runner.client.pipeline(transaction=False) as pipe:
            pipe.zrem(k.running_workflows_key(prefix), *[wf for wf, _, _ in ended])
            if completed:
                pipe.zadd(k.completed_workflows_key(prefix), completed, nx=True)
            if stopped:
                pipe.zadd(k.stopped_workflows_key(prefix), stopped, nx=True)
            await pipe.execute()

    async def expired(
        self, stopped: bool, max_age_ms: int, max_items: int, now_ms: int, limit: int
    ) -> list[str]:
        """Up to ``limit`` ended workflows (completed ones, or failed and cancelled ones when
        ``stopped``) that ended longer than ``max_age_ms`` ago or are beyond the newest
        ``max_items`` (-1: no such limit), oldest first."""
        prefix = self.runner.prefix
        key = k.stopped_workflows_key(prefix) if stopped else k.completed_workflows_key(prefix)
        if max_age_ms < 0 and max_items < 0:
            return []
        # one round trip, each read bounded by ``limit``: the oldest ``limit`` of the set and
        # its size say which of them are beyond the newest ``max_items``
        async with self.runner.client.pipeline(transaction=False) as pipe:
            pipe.zrangebyscore(key, "-inf", now_ms - max(max_age_ms, 0), 0, limit)
            pipe.zcard(key)
            pipe.zrange(key, 0, limit - 1)
            old, size, oldest = await pipe.execute()
        found = [str(id_) for id_ in old] if max_age_ms >= 0 else []
        if max_items >= 0:
            found += [str(id_) for id_ in oldest[: max(0, int(size) - max_items)]]
        return list(dict.fromkeys(found))[:limit]

    async def stopped_nodes(self, workflow_id: str) -> list[tuple[int, str]]:
        """The (index, task) of the nodes a stopped workflow cancelled while their jobs may
        have existed (field ``cq``), for cancelling their jobs again."""
        key = self.key(workflow_id)
        cancelled: str | None = await self.runner.client.hget(key, "cq")  # type: ignore[assignment]
        indexes = [int(i) for i in (cancelled or "").split(",") if i]
        if not indexes:
            return []
        tasks: list[str | None] = await self.runner.client.hmget(key, [f"t:{i}" for i in indexes])  # type: ignore[assignment]
        return [(i, t) for i, t in zip(indexes, tasks, strict=True) if t]

    async def take_repair_turn(self, owner: str, ttl_ms: int) -> bool:
        """True if this caller may run the repair pass now (no other did within ``ttl_ms``)."""
        key = k.workflow_repair_key(self.runner.prefix)
        return bool(await self.runner.client.set(key, owner, nx=True, px=max(ttl_ms, 1)))

    async def node_jobs(
        self, workflow_id: str, nodes: Sequence[tuple[int, str]]
    ) -> list[tuple[str | None, str | None, str | None, int]]:
        """(state, result, error, finished ms) of each node's job ((index, task) pairs); Nones
        and 0 if missing."""
        async with self.runner.client.pipeline(transaction=False) as pipe:
            for index, task in nodes:
                job = self.runner.keys(task).job(f"{workflow_id}.{index}")
                pipe.hmget(job, "state", "result", "error", "finished", DISPATCHED_FIELD)
            found = await pipe.execute()
        return [
            (job_state(state, dispatched), result, error, int(ended or 0))
            for state, result, error, ended, dispatched in found
        ]


def _joined(numbers: Sequence[int]) -> str:
    return ",".join(str(n) for n in numbers)


def _pairs(flat: Sequence[Any]) -> list[tuple[int, str]]:
    return [(int(flat[i]), str(flat[i + 1])) for i in range(0, len(flat), 2)]
