"""The typed face of the Redis engine: one method per script, plus the reads the library needs."""

from __future__ import annotations

import contextlib
import itertools
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from redis.asyncio import Redis

from ..errors import UsageError
from . import keys as k
from . import read_steps, steps
from .admin import JobAdmin
from .cluster import ClusterWire
from .connection import open_client
from .control import Control
from .dead import DeadLetters
from .doorbells import Doorbells
from .events import Events
from .failures import BLOCK_MARGIN_S, REPLY_TIMEOUT_S, kinds
from .flow import Flow
from .job_rewrite import JobRewriter
from .leases import Leases
from .reads import Reads
from .records import (
    DISPATCHED_FIELD,
    KEEP_ALL,
    Ack,
    ClaimedJob,
    Failure,
    JobRecord,
    NewJob,
    Retention,
    SweepResult,
    WireMigration,
    job_state,
)
from .registry import Workers
from .runner import Runner
from .schedules import Schedules
from .slots import shares_slot
from .wire import Wire
from .workflows import ReadyNode, Workflows, ready_nodes

PROMOTE_LIMIT = 1000
"""Due delayed jobs promoted per claim call; the rest follow on the next call."""


def _claimed(flat: Sequence[Any]) -> list[ClaimedJob]:
    try:
        return [
            ClaimedJob(
                id=flat[i],
                token=flat[i + 1],
                attempt=int(flat[i + 2]),
                data=flat[i + 3],
                dispatched_at_ms=int(flat[i + 4] or 0),
                version=int(flat[i + 5]),
            )
            for i in range(0, len(flat), 6)
        ]
    except TypeError:  # a job with a trace context or limits: its version item is a list
        return [_traced(flat[i : i + 6]) for i in range(0, len(flat), 6)]


def _traced(item: Sequence[Any]) -> ClaimedJob:
    # [version, tc] or [version, tc or None, limits] (claim.lua's version_item)
    version, trace, limits = (
        [*item[5], None][:3] if isinstance(item[5], list) else (item[5], None, None)
    )
    return ClaimedJob(
        item[0], item[1], int(item[2]), item[3], int(item[4] or 0), int(version), trace, limits
    )


class Engine(Reads):
    """One server connection (plus blocking ones, made on demand) for one event loop.

    The job calls are its methods; every other area is an attribute sharing its
    :class:`~.runner.Runner` (so one error mapping covers them all): ``dead_letters``
    (:class:`~.dead.DeadLetters`), ``flow`` (:class:`~.flow.Flow`), ``schedules``
    (:class:`~.schedules.Schedules`), ``control`` (:class:`~.control.Control`), ``workers``
    (:class:`~.registry.Workers`) and ``events`` (:class:`~.events.Events`).
    """

    def __init__(
        self,
        url: str,
        prefix: str = "",
        *,
        reply_timeout_s: float = REPLY_TIMEOUT_S,
        registered: set[str] | None = None,
        cluster: bool | None = None,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.reply_timeout_s = reply_timeout_s
        """How long a reply to a non-blocking command may take before the call fails."""
        self.runner = Runner(
            url, prefix, reply_timeout_s=reply_timeout_s, registered=registered, cluster=cluster
        )
        """What every call below and every area goes through: scripts, the client, the keys;
        ``cluster``: True/False says whether the server is a cluster, None asks its INFO."""
        self.cluster = self.runner.cluster
        self.client: Redis = self.runner.client
        self.dead_letters = DeadLetters(self.runner)
        self.flow = Flow(self.runner)
        self.schedules = Schedules(self.runner)
        self.control = Control(self.runner)
        self.workers = Workers(self.runner)
        self.events = Events(self.runner)
        self.workflows = Workflows(self.runner)
        self.admin = JobAdmin(self.runner)
        self.leases = Leases(self.runner)
        self._blocking: dict[str, Redis] = {}
        self._blocking_wires: dict[str, Wire | ClusterWire] = {}
        self._doorbells: Doorbells | None = None
        self.registered: set[str] = self.runner.registered
        """Task names recorded in the registry (a dispatch checks it first); a runtime shares
        one set between its engines and its blocking connections."""
        self._noted: set[str] = set()
        """Task names this engine has recorded in the registry (a dispatch checks it first)."""
        self._requests = (f"{secrets.token_hex(6)}:{n}" for n in itertools.count(1))
        """Ids of claiming calls: unique per engine, and a call sent again keeps its id."""

    # -- lifecycle ---------------------------------------------------------------------------

    async def connect(self, now_ms: int) -> None:
        """Check the server is reachable and speaks our wire format.

        Raises:
            ServerError: the server cannot be reached.
            WireFormatError: the server holds an incompatible layout.
        """
        await self.runner.drive(steps.handshake(self.prefix, now_ms))

    async def migrate_wire(self, now_ms: int) -> WireMigration:
        """Take the server over from an older layout (keys.MIGRATES_FROM on), without the
        handshake that would refuse it: its job hashes are rewritten into this code's layout
        (job_rewrite.py), then the meta record moves on (steps.migrate_wire). Only once no
        process of that older version runs."""
        # The older version is fenced out first: none of its processes started meanwhile, or
        # after a migration stopped half-way, can misread a rewritten job.
        rewritten = 0
        if await self.runner.drive(steps.fence_wire(self.prefix)) is not None:
            rewritten = await JobRewriter(self.runner).rewrite_all()
        outcome, before = await self.runner.drive(steps.migrate_wire(self.prefix, now_ms))
        return WireMigration(outcome, before, rewritten)

    async def close(self) -> None:
        """Close every connection this engine opened."""
        doorbells, self._doorbells = self._doorbells, None
        if doorbells is not None:  # first: a marker it is putting back needs the wire
            await doorbells.close()
        for client in [self.client, *self._blocking.values()]:
            with contextlib.suppress(*kinds().failure_or_ours, RuntimeError):
                await client.aclose()
        for wire in [self.runner.wire, *self._blocking_wires.values()]:
            if wire is not None:
                await wire.close()
        self._blocking.clear()
        self._blocking_wires.clear()

    def keys(self, task: str) -> k.TaskKeys:
        """The keys of ``task`` (cached)."""
        return self.runner.keys(task)

    def node_urls(self) -> list[str]:
        """Where to reach this engine's server: the URL, or on a cluster every master's (the
        URL's node first while the slot map is unknown), for connections any node can serve
        (pub/sub, which a cluster delivers to every node)."""
        wire = self.runner.wire
        if isinstance(wire, ClusterWire):
            return wire.master_urls()
        return [self.url]

    async def register_tasks(self, queues: Mapping[str, str]) -> None:
        """Record task names and their queues in the global registry (once per engine each)."""
        await self.runner.drive(steps.register_tasks(self.prefix, self.registered, queues))

    async def note_tasks(self, names: Iterable[str]) -> None:
        """Record task names whose queue this process does not know: a name already in the
        registry keeps its queue; a new one gets "default" until a worker registers it."""
        new = [name for name in names if name not in self.registered | self._noted]
        if new:
            key = k.task_registry_key(self.prefix)
            async with self.client.pipeline(transaction=False) as pipe:
                for name in new:
                    pipe.hsetnx(key, name, "default")
                await pipe.execute()
            self._noted.update(new)  # not `registered`: a later register_tasks sets the queue

    async def known_tasks(self) -> list[str]:
        """Every task name ever registered on this server/prefix."""
        return await self.runner.drive(read_steps.known_tasks(self.prefix))

    async def task_queues(self) -> dict[str, str]:
        """Task name -> the queue it was last registered in, for every known task."""
        return await self.runner.drive(read_steps.task_queues(self.prefix))

    async def publish_contracts(self, documents: Mapping[str, str]) -> dict[str, int]:
        """Publish tasks' contract documents (task name -> JSON), in one round trip.

        A document replaces the published one of the same or an older version; one whose
        published version is newer stays (an older worker starting during a rolling deploy
        must not roll the contract back). Publishing the same documents again is a no-op.

        Returns:
            Task name -> the newer version still published, for each document kept out.
        """
        if not documents:
            return {}
        args: list[str] = []
        for name, document in documents.items():
            args += [name, document]
        flat = await self.runner.run("publish_contract", [k.contracts_key(self.prefix)], args)
        return {flat[i]: int(flat[i + 1]) for i in range(0, len(flat), 2)}

    async def contracts(self) -> dict[str, str]:
        """Task name -> its published contract document (JSON), for every published task."""
        found: dict[str, str] = await self.client.hgetall(k.contracts_key(self.prefix))  # type: ignore[assignment]
        return found

    async def contract(self, name: str) -> str | None:
        """The published contract document (JSON) of task ``name``, or None."""
        found: str | None = await self.client.hget(k.contracts_key(self.prefix), name)  # type: ignore[assignment]
        return found

    # -- producing ---------------------------------------------------------------------------

    async def enqueue(self, task: str, job: NewJob, now_ms: int) -> bool:
        """Enqueue one job; False when another job holds its id.

        A call is sent again after a dropped connection even when the server already ran it,
        and then finds its own job in place: a job with this id, payload and dispatch time is
        this very call's, so that counts as enqueued (a retry is idempotent)."""
        return await self.runner.drive(steps.enqueue(self.keys(task), job, now_ms))

    async def enqueue_bulk(self, task: str, jobs: Sequence[NewJob], now_ms: int) -> list[bool]:
        """Enqueue many jobs in one round trip; one flag per job."""
        return await self.runner.drive(steps.enqueue_bulk(self.keys(task), jobs, now_ms))

    # -- working -----------------------------------------------------------------------------

    def _claim_keys(self, t: k.TaskKeys) -> list[str]:
        return [t.wait, t.prioritized, t.delayed, t.active, t.events, t.marker]

    def new_request(self) -> str:
        """A fresh request id for a claiming call (see :meth:`claim`)."""
        return next(self._requests)

    def _request(self, given: str | None) -> str:
        return given if given is not None else self.new_request()

    async def claim(
        self,
        task: str,
        worker: str,
        count: int,
        now_ms: int,
        lock_ttl_ms: int,
        *,
        request: str | None = None,
    ) -> list[ClaimedJob]:
        """Promote due delayed jobs, then claim up to ``count`` jobs.

        The call is idempotent per ``request`` (default: a new id): sent again with the same
        id, e.g. by the wire after a dropped connection, it returns the jobs the first run
        claimed instead of claiming more (the same holds for ack_and_claim, ack_and_advance and
        fail_and_claim).
        """
        t = self.keys(task)
        args = [now_ms, lock_ttl_ms, worker, count, PROMOTE_LIMIT, self._request(request)]
        keys = [*self._claim_keys(t), t.expired, t.lastclaim(worker), t.seq, t.tag]
        return _claimed(await self.runner.run("claim", keys, args))

    async def ack_and_claim(
        self,
        task: str,
        acks: Sequence[Ack],
        worker: str,
        count: int,
        now_ms: int,
        lock_ttl_ms: int,
        retention: Retention = KEEP_ALL,
        *,
        request: str | None = None,
    ) -> tuple[list[int], list[ClaimedJob]]:
        """Complete finished jobs and claim up to ``count`` more, in one round trip; trim the
        completed jobs beyond ``retention`` (a bounded number per call). One flag per job:
        1 completed, 2 cancelled instead (asked to cancel while it ran), 0 the lock was lost
        (truthy: it was settled)."""
        t = self.keys(task)
        keys, args = self._ack_call(t, acks, worker, count, now_ms, lock_ttl_ms, retention, request)
        acked, claimed = await self.runner.run("ack_and_claim", keys, args)
        return [int(flag) for flag in acked], _claimed(claimed)

    def _ack_call(
        self,
        t: k.TaskKeys,
        acks: Sequence[Ack],
        worker: str,
        count: int,
        now_ms: int,
        lock_ttl_ms: int,
        retention: Retention,
        request: str | None,
        *between: Any,
    ) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of ack_and_claim, and the start of ack_and_advance's (``between``: its
        arguments that go after the request id, before the acks)."""
        args: list[Any] = [now_ms, lock_ttl_ms, worker, count, PROMOTE_LIMIT]
        args += [retention.completed_max_age_ms, retention.completed_max_items]
        args += [self._request(request), *between, len(acks)]
        for ack in acks:
            args += [ack.id, ack.token, ack.result]
        keys = [*self._claim_keys(t), t.completed, t.expired, t.cancelled, t.counts]
        keys += [t.lastclaim(worker), t.seq, t.tag]
        return keys, args

    async def ack_and_advance(
        self,
        task: str,
        acks: Sequence[Ack],
        workflow_id: str,
        worker: str,
        count: int,
        now_ms: int,
        lock_ttl_ms: int,
        retention: Retention = KEEP_ALL,
        *,
        request: str | None = None,
    ) -> tuple[list[int], list[ClaimedJob], tuple[str, list[ReadyNode]] | None]:
        """:meth:`ack_and_claim`, with workflow ``workflow_id`` moved on by its nodes among
        the jobs completed, in the same round trip: its nodes of ``task`` made ready are
        enqueued there (and may be claimed by it). The workflow's hash must share the slot of
        ``task``'s keys (``slots.shares_slot``; ids from ``slots.workflow_id_in_slot_of`` do).

        Returns:
            (flags, claimed, advanced): flags and claimed as :meth:`ack_and_claim`; advanced
            is the workflow's state after the call and its ready nodes of other tasks (for
            the caller to enqueue), or None when the server answered a call sent again: the
            caller then moves the workflow on with ``workflows.node_done`` (which repeats
            nothing).
        """
        t = self.keys(task)
        if not shares_slot(self.workflows.key(workflow_id), t.tag):
            raise UsageError(
                f"workflow {workflow_id!r} is not in the slot of task {task!r}: ack its nodes "
                "with ack_and_claim and move it on with workflows.node_done"
            )
        keys, args = self._ack_call(
            t, acks, worker, count, now_ms, lock_ttl_ms, retention, request, task, workflow_id
        )
        keys.append(self.workflows.key(workflow_id))
        reply = await self.runner.run("ack_and_advance", keys, args)
        flags, claimed = [int(flag) for flag in reply[0]], _claimed(reply[1])
        if len(reply) < 3:
            return flags, claimed, None
        state, flat = reply[2]
        return flags, claimed, (str(state), ready_nodes(flat))

    async def fail_and_claim(
        self,
        task: str,
        failure: Failure,
        worker: str,
        count: int,
        now_ms: int,
        lock_ttl_ms: int,
        retention: Retention = KEEP_ALL,
        *,
        request: str | None = None,
    ) -> tuple[int, list[ClaimedJob]]:
        """Record a failed attempt (retry or dead letter) and claim up to ``count`` more; a
        dead letter trims the failed jobs beyond ``retention``.

        Returns:
            (status, claimed): status 1 retrying, 2 failed for good, 3 cancelled (asked to
            cancel while it ran), 0 the lock was lost.
        """
        t = self.keys(task)
        retry_at = -1 if failure.retry_at_ms is None else failure.retry_at_ms
        args = [now_ms, lock_ttl_ms, worker, count, PROMOTE_LIMIT]
        args += [failure.id, failure.token, failure.error, retry_at]
        args += [retention.failed_max_age_ms, retention.failed_max_items, self._request(request)]
        keys = [*self._claim_keys(t), t.failed, t.expired, t.cancelled, t.counts]
        keys += [t.lastclaim(worker), t.seq, t.tag]
        status, claimed = await self.runner.run("fail_and_claim", keys, args)
        return int(status), _claimed(claimed)

    async def extend_locks(
        self, task: str, held: Sequence[tuple[str, str]], now_ms: int, lock_ttl_ms: int
    ) -> list[int]:
        """Push the lock deadline of held jobs forward: 1 done, 2 done but the job was asked to
        cancel, 0 the lock was lost."""
        if not held:
            return []
        t = self.keys(task)
        args: list[Any] = [now_ms, lock_ttl_ms]
        for job_id, token in held:
            args += [job_id, token]
        flags = await self.runner.run("extend_lock", [t.active, t.tag], args)
        return [int(flag) for flag in flags]

    async def nack(self, task: str, held: Sequence[tuple[str, str]], now_ms: int) -> list[bool]:
        """Hand held jobs back to the front of the waiting line (those asked to cancel end
        cancelled instead); False where the lock was lost."""
        if not held:
            return []
        t = self.keys(task)
        args: list[Any] = [now_ms]
        for job_id, token in held:
            args += [job_id, token]
        keys = [t.wait, t.prioritized, t.active, t.events, t.marker, t.cancelled, t.tag]
        return [bool(flag) for flag in await self.runner.run("nack", keys, args)]

    async def defer(
        self, task: str, held: Sequence[tuple[str, str]], now_ms: int, run_at_ms: int
    ) -> list[int]:
        """Hand held jobs back as delayed until ``run_at_ms``, counting nothing against them
        (a worker too old for their payload version leaves them to newer workers): 1 deferred,
        2 cancelled instead (it was asked to), 0 the lock was lost."""
        if not held:
            return []
        t = self.keys(task)
        args: list[Any] = [now_ms, run_at_ms]
        for job_id, token in held:
            args += [job_id, token]
        keys = [t.wait, t.prioritized, t.delayed, t.active, t.events, t.marker, t.cancelled]
        keys.append(t.tag)
        return [int(flag) for flag in await self.runner.run("defer", keys, args)]

    async def stall_sweep(
        self,
        task: str,
        now_ms: int,
        interval_ms: int,
        max_stalls: int,
        limit: int = 1000,
        retention: Retention = KEEP_ALL,
    ) -> SweepResult | None:
        """Recover or fail jobs whose lock deadline passed, and trim the finished sets to
        ``retention`` (cancelled and expired by the failed limits; a bounded number per call);
        None if another worker swept."""
        t = self.keys(task)
        keys = [t.wait, t.prioritized, t.active, t.failed, t.events, t.marker, t.sweep]
        keys += [t.completed, t.cancelled, t.expired, t.counts, t.tag]
        args = [now_ms, interval_ms, max_stalls, limit, *retention]
        recovered, failed = await self.runner.run("stall_sweep", keys, args)
        if recovered < 0:
            return None
        return SweepResult(int(recovered), int(failed))

    async def cancel(self, task: str, job_id: str, reason: str, now_ms: int) -> tuple[str, str]:
        """Cancel a job: at once unless it is active, when it is flagged and its worker told.

        Returns:
            (outcome, state before): outcome "cancelled", "flagged", "finished" or "missing".
        """
        t = self.keys(task)
        keys = [t.wait, t.prioritized, t.delayed, t.events, t.cancelled, t.paused, t.tag]
        args = [job_id, now_ms, reason, t.cancel_channel]
        outcome, state = await self.runner.run("cancel", keys, args)
        return str(outcome), str(state)

    async def release_worker(self, task: str, worker: str) -> int:
        """End a dead worker's claims on ``task`` so the next stall sweep recovers its jobs.

        Returns:
            How many jobs it held.
        """
        t = self.keys(task)
        keys = [t.active, t.sweep, t.tag]
        return int(await self.runner.run("release_worker", keys, [worker]))

    async def request_drain(self, worker_id: str) -> bool:
        """Ask a registered worker to finish its jobs and exit; False if there is none."""
        key = k.worker_key(self.prefix, worker_id)
        return bool(await self.runner.run("request_drain", [key], []))

    async def ready_count(self, task: str, now_ms: int) -> int:
        """Jobs of ``task`` a worker could claim now: waiting, plus delayed ones already due."""
        t = self.keys(task)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.llen(t.wait)
            pipe.zcard(t.prioritized)
            pipe.zcount(t.delayed, "-inf", now_ms)
            counts = await pipe.execute()
        return sum(int(n) for n in counts)

    async def next_due(self, tasks: Iterable[str]) -> int | None:
        """When the next thing of ``tasks`` comes due, in ms: the earliest delayed job (retries,
        delays, collect flushes, debounces), schedule, or stall sweep that finds a job whose
        lock ran out (not before the sweep's own next turn); None when nothing waits."""
        names = list(tasks)
        async with self.client.pipeline(transaction=False) as pipe:
            for task in names:
                t = self.keys(task)
                pipe.zrange(t.delayed, 0, 0, withscores=True)
                pipe.zrange(t.active, 0, 0, withscores=True)
                pipe.get(t.sweep)
            pipe.zrange(k.schedule_due_key(self.prefix), 0, 0, withscores=True)
            replies: list[Any] = await pipe.execute()
        due = [int(first[0][1]) for first in replies[0:-1:3] + replies[-1:] if first]
        for active, sweep in zip(replies[1:-1:3], replies[2:-1:3], strict=True):
            if active:  # stalled once its deadline has passed, found by the next sweep
                due.append(max(int(active[0][1]) + 1, int(sweep or 0)))
        return min(due, default=None)

    async def delete_prefix(self) -> int:
        """Delete every key under this engine's prefix (a test's own); returns how many.

        Raises:
            UsageError: the prefix is empty (that would be every app's keys).
        """
        if not self.prefix:
            raise UsageError("delete_prefix() needs a prefix: an empty one is every app's keys")
        deleted, batch = 0, []
        async for key in self.client.scan_iter(match=f"{k.base(self.prefix)}:*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += await self.client.unlink(*batch)
                batch.clear()
        if batch:
            deleted += await self.client.unlink(*batch)
        return deleted

    async def wait_for_work(self, task: str, timeout_s: float) -> float | None:
        """Block until a producer or a claim signals work for ``task``.

        Returns:
            The marker's score (0 = work now, else the ms time the next delayed job is due),
            or None when the timeout passed with no signal.
        """
        marker = self.keys(task).marker
        if self._doorbells is None:
            self._doorbells = Doorbells(self.runner)
        if not self._doorbells.unsupported:
            # one pub/sub connection (per master) hears every task's doorbell
            return await self._doorbells.wait(marker, timeout_s)
        popped: Any
        if self.runner.wire is not None:
            wire = self._blocking_wires.get(task)
            if wire is None:
                # One connection per task (a server without sharded pub/sub): a block holds
                # its connection, and a cluster refuses a BZPOPMIN of markers in different
                # slots.
                kind = ClusterWire if self.cluster else Wire
                wire = kind(self.url, blocking=True, reply_timeout_s=self.reply_timeout_s)
                self._blocking_wires[task] = wire
            # Sent again after a dropped connection: a marker popped twice costs a wake-up at
            # most, and a worker looks for work every IDLE_BLOCK_S anyway.
            block = ("BZPOPMIN", marker, round(timeout_s, 3))
            reply_timeout = timeout_s + BLOCK_MARGIN_S
            if isinstance(wire, ClusterWire):
                popped = await wire.call(
                    *block, key=marker, reply_timeout=reply_timeout, resend=True
                )
            else:
                popped = await wire.call(*block, reply_timeout=reply_timeout, resend=True)
        else:
            client = self._blocking.get(task)
            if client is None:
                client = open_client(
                    self.url,
                    blocking=True,
                    reply_timeout_s=self.reply_timeout_s,
                    cluster=self.cluster,
                )
                self._blocking[task] = client
            popped = await client.bzpopmin([marker], timeout=timeout_s)
        if popped is None:
            return None
        return float(popped[2])

    async def set_progress(
        self, task: str, job_id: str, value: str | None, update: str | None = None
    ) -> None:
        """Store a job's progress and announce it on the event stream, value included: a
        reader that comes later must see each value set, not the job's latest. ``update``
        (JSON) rides along in the entry's ``update`` field (``ctx.announce``: the WebSocket
        gateway's ``task_update``); with ``value`` None the job's progress stays as it is."""
        t = self.keys(task)
        entry = {"event": "progress", "job": job_id}
        if value is not None:
            entry["progress"] = value
        if update is not None:
            entry["update"] = update
        async with self.client.pipeline(transaction=False) as pipe:
            if value is not None:
                pipe.hset(t.job(job_id), "progress", value)
            pipe.xadd(t.events, entry, maxlen=10000, approximate=True)  # type: ignore[arg-type]
            await pipe.execute()

    async def append_logs(self, task: str, job_id: str, entries: Sequence[str], cap: int) -> None:
        """Append log entries (JSON) to a job's capped log."""
        key = self.keys(task).logs(job_id)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.rpush(key, *entries)
            pipe.ltrim(key, -cap, -1)
            await pipe.execute()

    # -- reading -----------------------------------------------------------------------------

    async def server_info(self) -> dict[str, str]:
        """What the server says of itself: its name, version, memory, connected clients and
        mode, and our layout."""
        # a cluster client asks every node by default: the node of the URL speaks for them
        one: dict[str, Any] = {"target_nodes": "default-node"} if self.cluster else {}
        info: dict[str, Any] = await self.client.info("server", **one)
        memory: dict[str, Any] = await self.client.info("memory", **one)
        clients: dict[str, Any] = await self.client.info("clients", **one)
        meta: dict[str, str] = await self.client.hgetall(k.meta_key(self.prefix))  # type: ignore[assignment]
        valkey = info.get("valkey_version")
        return {
            "server": "valkey" if valkey else "redis",
            "version": str(valkey or info.get("redis_version", "?")),
            "mode": str(info.get("redis_mode") or info.get("server_mode") or "standalone"),
            "used_memory": str(memory.get("used_memory_human", "?")),
            "clients": str(clients.get("connected_clients", "?")),
            "wire_version": meta.get("wire_version", "?"),
            "written_by": meta.get("written_by", "?"),
        }

    async def job(self, task: str, job_id: str) -> JobRecord | None:
        """The stored job, or None if there is none."""
        # decode_responses=True: every reply is str, which redis-py's stubs cannot express
        raw: dict[str, str] = await self.client.hgetall(self.keys(task).job(job_id))  # type: ignore[assignment]
        return JobRecord.from_hash(task, job_id, raw) if raw else None

    async def job_state(self, task: str, job_id: str) -> str | None:
        """Just the state of a job, or None if there is none."""
        found: list[str | None] = await self.client.hmget(  # type: ignore[assignment]
            self.keys(task).job(job_id), ["state", DISPATCHED_FIELD]
        )
        return job_state(*found)

    async def job_logs(self, task: str, job_id: str) -> list[str]:
        """The job's log entries (JSON strings), oldest first."""
        return await self.runner.drive(read_steps.job_logs(self.keys, task, job_id))

    async def counts(self, task: str) -> dict[str, int]:
        """How many jobs of ``task`` are in each queue."""
        t = self.keys(task)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.llen(t.wait)
            pipe.zcard(t.prioritized)
            pipe.zcard(t.delayed)
            pipe.zcard(t.active)
            pipe.zcard(t.completed)
            pipe.zcard(t.failed)
            wait, prio, delayed, active, completed, failed = await pipe.execute()
        return {
            "waiting": wait + prio,
            "delayed": delayed,
            "active": active,
            "completed": completed,
            "failed": failed,
        }
