"""Running workflows: dispatch a composition, advance it as nodes end, and its handle.

A workflow is stored once (engine/workflows.py) and its root nodes are enqueued as plain jobs
with pre-generated ids ``<workflow id>.<node index>``. The worker that acks a node's job moves
its workflow on: in the ack itself when the workflow's hash shares the slot of the node's task
(``Engine.ack_and_advance``, then :func:`carry_on` for what it hands back; a workflow's id is
chosen so its most frequent task's nodes do), else with :func:`advance`. Either way one
script marks the node done and gives the nodes now ready, which are enqueued under their ids
(a crash between the two repeats nothing: the script answers the same again and the enqueue is
idempotent). A node that fails for good calls
:func:`fail_node`, which fails the workflow and cancels its queued and active nodes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from .blocking import blocking_twin
from .durations import Duration, to_ms
from .engine.records import NewJob
from .engine.slots import workflow_id_in_slot_of
from .engine.workflows import NodeSpec, ReadyNode
from .errors import (
    CancelledError,
    JobFailedError,
    JobNotFoundError,
    NotCancellableError,
    UsageError,
)
from .job_state import JobState
from .remote_error import RemoteError, parse_remote_error
from .serialization import dumps, require_json
from .workflow_graph import Composition, first_task, flatten, node_job_id

if TYPE_CHECKING:
    from .config import RetentionConfig
    from .engine.engine import Engine
    from .engine.records import Retention
    from .runtime import Runtime

BULK = 1000
"""Root nodes of one task enqueued per round trip."""
POLL_S = (0.005, 0.1)
"""A result waiter looks at the workflow this often: the first wait, then at most (doubling)."""


class WorkflowState:
    """The states of a workflow (plain strings, as stored)."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


def max_age_ms(retention: RetentionConfig, state: str) -> int:
    """How long a workflow ending ``state`` is kept: the finished jobs' age limit (-1 = kept)."""
    age = (
        retention.completed_max_age_ms
        if state == WorkflowState.COMPLETED
        else retention.failed_max_age_ms
    )
    return -1 if age is None else age


async def dispatch_workflow(
    c: Composition, name: str | None, ttl: Duration | None = None
) -> WorkflowHandle:
    """Store ``c`` as a new workflow and enqueue its root nodes; see Composition.dispatch."""
    life_ms = None if ttl is None else to_ms(ttl, what="ttl")
    if life_ms is not None and life_ms <= 0:
        raise UsageError(f"a workflow ttl must be positive, got {ttl!r}")
    runtime = first_task(c).runtime
    require_json(runtime.payloads.serializer, "workflows")
    graph = flatten(c)
    now = runtime.clock()
    # its hash in the slot of its most frequent task: a worker of that task then acks a node
    # and moves the workflow on in one single-slot call (engine/slots.py)
    most = Counter(node.task for node in graph.nodes).most_common(1)[0][0]
    workflow_id = workflow_id_in_slot_of(most)
    dependents = graph.dependents()
    specs: list[NodeSpec] = []
    roots: dict[str, list[NewJob]] = defaultdict(list)
    root_indexes: list[int] = []
    templates: dict[str, NewJob] = {}  # per task: its job fields, the same for every node
    for node in graph.nodes:
        task = graph.tasks[node.task]
        template = templates.get(node.task)
        if template is None:
            template = templates[node.task] = task.new_job(None, None, 0, None, now)
        data = None
        if node.bound:
            checked = task.checked(node.data) if task.options.input else node.data
            data = dumps(checked, what=f"data for task {node.task!r}")
        ttl_ms = template.expire_at_ms - now if template.expire_at_ms else 0
        spec = NodeSpec(node.task, node.deps, dependents[node.index], data, template.extra, ttl_ms)
        specs.append(spec)
        if data is not None and not node.deps:
            job_id = node_job_id(workflow_id, node.index)
            # its job id names its workflow and node (parse_node_job_id): no fields for that
            roots[node.task].append(
                NewJob(job_id, data, 0, 0, template.expire_at_ms, template.extra)
            )
            root_indexes.append(node.index)
    engine = await runtime.engine()
    await engine.register_tasks({t: graph.tasks[t].options.queue for t in graph.tasks})
    label = name or graph.nodes[0].task
    expire_at = 0 if life_ms is None else now + life_ms
    await engine.workflows.create(workflow_id, label, specs, graph.outputs, now, expire_at)
    for task_name, jobs in roots.items():
        for start in range(0, len(jobs), BULK):
            await engine.enqueue_bulk(task_name, jobs[start : start + BULK], now)
    await engine.workflows.nodes_enqueued(workflow_id, root_indexes)
    return WorkflowHandle(runtime, workflow_id)


async def enqueue_ready(
    engine: Engine,
    workflow_id: str,
    ready: Sequence[ReadyNode],
    now_ms: int,
    on_enqueue: Callable[[set[str]], None] | None = None,
) -> None:
    """Enqueue nodes made ready, under their pre-generated ids (a second time is a no-op),
    then mark them queued: from then on, a missing job is one that is gone, not one to enqueue.
    ``on_enqueue`` is told the tasks about to get jobs just before their enqueue goes out, so
    a worker of those tasks sends its claim right behind it, in the same round trip rather
    than after it (on one connection the server runs them in that order; a claim that
    overtakes the enqueue finds nothing, and the enqueue's marker wakes the worker)."""
    by_task: dict[str, list[NewJob]] = defaultdict(list)
    for node in ready:
        job_id = node_job_id(workflow_id, node.node)
        expire_at = now_ms + node.ttl_ms if node.ttl_ms else 0
        by_task[node.task].append(NewJob(job_id, node.data, 0, 0, expire_at, node.extra))
    if on_enqueue is not None:
        on_enqueue(set(by_task))
    for task, jobs in by_task.items():
        if len(jobs) == 1:
            await engine.enqueue(task, jobs[0], now_ms)
        else:
            for start in range(0, len(jobs), BULK):
                await engine.enqueue_bulk(task, jobs[start : start + BULK], now_ms)
    await engine.workflows.nodes_enqueued(workflow_id, [node.node for node in ready])


async def advance(
    engine: Engine,
    workflow_id: str,
    results: Sequence[tuple[int, str]],
    now_ms: int,
    max_age: int = -1,
    on_enqueue: Callable[[set[str]], None] | None = None,
) -> set[str]:
    """Nodes completed with results ((index, JSON) pairs): mark them done and enqueue the
    nodes they made ready (``on_enqueue``: see :func:`enqueue_ready`). Returns the tasks
    those nodes run."""
    state, ready = await engine.workflows.node_done(workflow_id, results, now_ms, max_age)
    return await carry_on(engine, workflow_id, state, ready, now_ms, on_enqueue)


async def carry_on(
    engine: Engine,
    workflow_id: str,
    state: str,
    ready: Sequence[ReadyNode],
    now_ms: int,
    on_enqueue: Callable[[set[str]], None] | None = None,
) -> set[str]:
    """What follows marking nodes done (in ``workflow_node_done`` or in a worker's ack): enqueue
    the ``ready`` nodes and, when the workflow ended ``completed``, list it for retention.
    Returns the tasks the ready nodes run."""
    if ready:
        await enqueue_ready(engine, workflow_id, ready, now_ms, on_enqueue)
    if state == WorkflowState.COMPLETED:  # it ends here: retention takes it from now on
        await engine.workflows.settle([(workflow_id, state, now_ms)])
    return {node.task for node in ready}


async def fail_node(
    engine: Engine, workflow_id: str, index: int, error: str, now_ms: int, max_age: int = -1
) -> None:
    """Node ``index`` failed for good: fail the workflow and cancel its other nodes."""
    queued = await engine.workflows.node_failed(workflow_id, index, error, now_ms, max_age)
    await cancel_nodes(engine, workflow_id, queued, f"workflow {workflow_id} failed", now_ms)
    state = await engine.workflows.state(workflow_id)  # failed, or ended before (or trimmed)
    if state is not None and state != WorkflowState.RUNNING:
        await engine.workflows.settle([(workflow_id, state, now_ms)])


async def cancel_nodes(
    engine: Engine, workflow_id: str, nodes: Sequence[tuple[int, str]], reason: str, now_ms: int
) -> None:
    """Cancel the jobs of ``nodes`` (waiting ones at once, active ones through their worker;
    a job that ended or is missing is left as it is, so doing it again is harmless)."""
    for index, task in nodes:
        await engine.cancel(task, node_job_id(workflow_id, index), reason, now_ms)


class WorkflowHandle:
    """What dispatching a workflow returns: its id, its state, its result, its cancel.

    Attributes:
        id: the workflow's id (its node jobs are ``<id>.<node index>``).
    """

    def __init__(self, runtime: Runtime, workflow_id: str) -> None:
        self.runtime = runtime
        self.id = workflow_id

    def __repr__(self) -> str:
        return f"WorkflowHandle(id={self.id!r})"

    async def astate(self) -> str:
        """``running``, ``completed``, ``failed`` or ``cancelled`` (``missing``: no such
        workflow, or trimmed by retention)."""
        engine = await self.runtime.engine()
        return await engine.workflows.state(self.id) or "missing"

    state = blocking_twin(astate)

    async def aresult(self, timeout: float | None = None) -> Any:
        """Wait for the workflow to end and return its result: the output of its last step
        (a list, in order, when that is a group).

        Raises:
            TimeoutError: it did not end in time (it keeps running).
            JobFailedError: a node failed for good (the error is that node's).
            CancelledError: the workflow was cancelled.
            JobNotFoundError: no such workflow.
        """
        import asyncio  # a dispatch that does not wait does not load it

        engine = await self.runtime.engine()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        pause = POLL_S[0]
        while True:
            state = await engine.workflows.state(self.id)  # one field: the hash may be big
            if state is None:
                raise JobNotFoundError(f"workflow {self.id} does not exist", self.id)
            if state != WorkflowState.RUNNING:
                return self._outcome(await engine.workflows.ending(self.id))
            if deadline is not None and loop.time() >= deadline:
                raise TimeoutError(f"workflow {self.id} did not end within {timeout}s")
            wait = pause if deadline is None else min(pause, max(deadline - loop.time(), 0))
            await asyncio.sleep(wait)
            pause = min(pause * 2, POLL_S[1])

    result = blocking_twin(aresult)

    def _outcome(self, stored: dict[str, str]) -> Any:
        state = stored.get("state")
        if state is None:  # trimmed between the two reads
            raise JobNotFoundError(f"workflow {self.id} does not exist", self.id)
        if state == WorkflowState.COMPLETED:
            return self.runtime.payloads.loads(
                stored["result"], what=f"the result of workflow {self.id}"
            )
        if state == WorkflowState.CANCELLED:
            raise CancelledError(f"workflow {self.id} was cancelled", self.id)
        error = parse_remote_error(stored.get("error")) or RemoteError(None, "", None)
        node = stored.get("failed_node", "?")
        raise JobFailedError(
            f"workflow {self.id} failed at node {node} ({stored.get('task') or '?'}): "
            f"{error.type or 'Error'}: {error.message}",
            node_job_id(self.id, int(node)) if node.isdigit() else None,
            remote_type=error.type,
            remote_traceback=error.traceback,
            issues=error.issues,
        )

    async def acancel(self, reason: str | None = None) -> str:
        """Cancel the workflow: its pending nodes never run, its waiting ones are cancelled
        and its active ones stopped (their workers are told at once).

        Returns:
            ``"cancelled"``.

        Raises:
            NotCancellableError: it already ended (its state is in the error).
            JobNotFoundError: no such workflow.
        """
        engine = await self.runtime.engine()
        now = self.runtime.clock()
        age = max_age_ms(self.runtime.config.retention, WorkflowState.CANCELLED)
        before, queued = await engine.workflows.cancel(self.id, reason or "", now, age)
        if before == "missing":
            raise JobNotFoundError(f"workflow {self.id} does not exist", self.id)
        if before != WorkflowState.RUNNING:
            raise NotCancellableError(f"workflow {self.id} already ended {before}", self.id, before)
        await cancel_nodes(engine, self.id, queued, reason or "", now)
        await engine.workflows.settle([(self.id, WorkflowState.CANCELLED, now)])
        return JobState.CANCELLED

    cancel = blocking_twin(acancel)


REPAIR_LIMIT = 1000
"""Idle running workflows the repair pass looks at per turn at most (the longest idle first;
the rest wait for the next turn)."""


class Repaired(NamedTuple):
    """What one repair pass did: ``looked`` at so many workflows (a few fields each), ``read``
    so many whole (those idle longer than the grace), and ``acted`` on so many nodes."""

    looked: int
    read: int
    acted: int


async def repair_workflows(
    engine: Engine,
    now_ms: int,
    max_age: int = -1,
    grace_ms: int = 0,
    failed_max_age: int | None = None,
    suspects: dict[tuple[str, int], int] | None = None,
) -> Repaired:
    """Finish what a worker that died between acking a node and advancing its workflow left
    undone, looking only at the workflows not seen to move on for ``grace_ms`` (the stall
    interval; an index scored by when each last moved on, so the cost follows the idle ones,
    not all that run). For each: a queued node whose job completed is advanced, one whose job
    ended otherwise fails the workflow, one marked ready whose job is missing (its enqueue
    never happened) is enqueued, and one marked queued whose job is missing (deleted, expired
    or trimmed before its result was recorded) fails the workflow, once it is found so a
    second time ``grace_ms`` later when ``suspects`` (this caller's memory from one pass to
    the next) is given: a live worker whose job retention trimmed between its ack and its
    advance records the result meanwhile. A stopped workflow has the jobs of the nodes it
    cancelled cancelled again (in case the stopper died or its reply was lost) and leaves the
    running list for the ended one retention trims. Every step is idempotent, so a pass
    racing a live worker's own advance repeats nothing; ``grace_ms`` also leaves alone the
    jobs that ended more recently (their worker is likely advancing them now). ``max_age``:
    the completed workflows' retention age, ``failed_max_age`` the failed and cancelled ones'
    (default: ``max_age``)."""
    ages = (max_age, max_age if failed_max_age is None else failed_max_age)
    idle_since = now_ms - grace_ms
    due = await engine.workflows.due(idle_since, REPAIR_LIMIT)
    acted = read = 0
    ended: list[tuple[str, str, int]] = []
    gone: list[str] = []
    later: dict[str, int] = {}
    for workflow_id, seen in zip(due, await engine.workflows.glance(due), strict=True):
        if seen.state is None:  # trimmed, or expired: nothing of it is left to list
            gone.append(workflow_id)
        elif seen.state != WorkflowState.RUNNING:  # its ender died before it settled it
            if seen.state in (WorkflowState.FAILED, WorkflowState.CANCELLED):
                stopped = await engine.workflows.stopped_nodes(workflow_id)
                await cancel_nodes(
                    engine, workflow_id, stopped, f"workflow {workflow_id} stopped", now_ms
                )
            ended.append((workflow_id, seen.state, seen.finished_ms or now_ms))
        elif seen.expire_at_ms and now_ms >= seen.expire_at_ms:  # its ttl passed: cancelled
            before, queued = await engine.workflows.cancel(workflow_id, "ttl", now_ms, ages[1])
            if before == WorkflowState.RUNNING:  # else it ended meanwhile: seen next turn
                await cancel_nodes(engine, workflow_id, queued, "workflow ttl", now_ms)
                ended.append((workflow_id, WorkflowState.CANCELLED, now_ms))
                acted += 1
        else:
            look_at = now_ms  # looked at now: due again after another grace
            if seen.moved_ms <= idle_since:
                stored = await engine.workflows.read(workflow_id)
                read += 1
                times = (now_ms, idle_since)
                acted += await _repair(engine, workflow_id, stored, times, ages, suspects)
            else:  # it moved on since the pass last looked: due again a grace after that
                look_at = seen.moved_ms
            if seen.expire_at_ms:  # due again by its ttl at the latest
                look_at = min(look_at, seen.expire_at_ms - grace_ms)
            later[workflow_id] = look_at
    await engine.workflows.settle(ended)
    await engine.workflows.delete(gone)
    await engine.workflows.look_again(later)
    if suspects:  # forget nodes no longer found missing (recovered, or their workflow ended)
        for key, since in list(suspects.items()):
            if since < now_ms - 3 * max(grace_ms, 1):
                del suspects[key]
    return Repaired(len(due), read, acted)


async def _repair(
    engine: Engine,
    workflow_id: str,
    stored: dict[str, str],
    times: tuple[int, int],
    ages: tuple[int, int],
    suspects: dict[tuple[str, int], int] | None,
) -> int:
    """Repair one running workflow; ``times``: now, and the time by which a node's job must
    have ended for this pass to act on it (ms); ``ages``: the completed and failed retention
    ages; ``suspects``: see repair_workflows."""
    now_ms, ended_by = times
    max_age, failed_age = ages
    queued = [
        (i, stored[f"t:{i}"])
        for i in range(int(stored.get("n", 0)))
        if stored.get(f"s:{i}") in ("ready", "queued")
    ]
    if not queued:
        return 0
    completed: list[tuple[int, str]] = []
    missing: list[ReadyNode] = []
    for (index, task), (state, result, error, ended) in zip(
        queued, await engine.workflows.node_jobs(workflow_id, queued), strict=True
    ):
        if ended > ended_by:
            continue
        if state == JobState.COMPLETED:
            completed.append((index, result or "null"))
        elif state is None and stored.get(f"s:{index}") == "ready":  # never enqueued
            extra, ttl_ms = stored.get(f"x:{index}", ""), int(stored.get(f"e:{index}", 0))
            missing.append(ReadyNode(index, task, _input(stored, index), extra, ttl_ms))
        elif state is None:  # enqueued, and gone since: running it again could repeat it
            if await _gone_for_good(engine, workflow_id, index, times, suspects):
                error = dumps(
                    {
                        "type": "NodeJobGone",
                        "message": f"node {index}'s job {node_job_id(workflow_id, index)} is "
                        "gone (deleted, expired or trimmed before its result was recorded)",
                    },
                    what="a workflow error",
                )
                await fail_node(engine, workflow_id, index, error, now_ms, failed_age)
                return 1
        elif state in (JobState.FAILED, JobState.CANCELLED, JobState.EXPIRED):
            if state != JobState.FAILED or not error:
                error = f'{{"type":"NodeEnded","message":"node {index} ended {state}"}}'
            await fail_node(engine, workflow_id, index, error, now_ms, failed_age)
            return 1
    if missing:
        await enqueue_ready(engine, workflow_id, missing, now_ms)
    if completed:
        await advance(engine, workflow_id, completed, now_ms, max_age)
    return len(completed) + len(missing)


async def _gone_for_good(
    engine: Engine,
    workflow_id: str,
    index: int,
    times: tuple[int, int],
    suspects: dict[tuple[str, int], int] | None,
) -> bool:
    """Whether queued node ``index``, whose job is missing, is to fail its workflow now: it is
    still queued (its worker did not record its result meanwhile) and, with ``suspects``, it
    was found so a grace ago already (see repair_workflows)."""
    if await engine.workflows.node_state(workflow_id, index) != "queued":
        return False
    if suspects is None:
        return True
    now_ms, ended_by = times
    first = suspects.setdefault((workflow_id, index), now_ms)
    return first < now_ms and now_ms - first >= now_ms - ended_by


def _input(stored: dict[str, str], index: int) -> str:
    """Node ``index``'s input, as workflow_node_done.lua builds it (lib/workflow.lua)."""
    bound = stored.get(f"b:{index}")
    if bound is not None:
        return bound
    deps = [d for d in stored.get(f"p:{index}", "").split(",") if d]
    if len(deps) == 1:
        return stored.get(f"r:{deps[0]}", "null")
    return "[" + ",".join(stored.get(f"r:{d}", "null") for d in deps) + "]"


TRIM_LIMIT = 1000
"""Ended workflows of each kind deleted per repair pass at most."""


async def trim_workflows(engine: Engine, retention: Retention, now_ms: int) -> int:
    """Delete the ended workflows retention no longer keeps, as it does finished jobs: the
    completed ones by ``completed_max_age_ms`` and ``completed_max_items``, the failed and
    cancelled ones by ``failed_max_age_ms`` and ``failed_max_items`` (-1 = no such limit),
    each counted among its own kind; running ones stay. Their hashes (results included) go
    first, then their ids from every list. Returns how many went."""
    trimmed = 0
    kinds = (
        (False, retention.completed_max_age_ms, retention.completed_max_items),
        (True, retention.failed_max_age_ms, retention.failed_max_items),
    )
    for stopped, max_age, max_items in kinds:
        doomed = await engine.workflows.expired(stopped, max_age, max_items, now_ms, TRIM_LIMIT)
        await engine.workflows.delete(doomed)
        trimmed += len(doomed)
    return trimmed
