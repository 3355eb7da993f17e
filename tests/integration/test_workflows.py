"""Workflows end to end: chain, group, chord, map, chunk, failure, cancel, crash safety."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from support import make_app, until

from taskora_cli import CancelledError, JobFailedError, Taskora, chain, chord, group
from taskora_cli.engine.records import Ack, Retention
from taskora_cli.workflow import (
    advance,
    enqueue_ready,
    fail_node,
    repair_workflows,
    trim_workflows,
)


@pytest.fixture
async def app(redis_url: str, tmp_path: Path) -> AsyncIterator[Taskora]:
    made = make_app(redis_url, tmp_path)

    @made.task("add")
    async def add(data: dict[str, int]) -> int:
        return data["a"] + data["b"]

    @made.task("double")
    async def double(n: int) -> int:
        return n * 2

    @made.task("total")
    async def total(ns: list[int]) -> int:
        return sum(ns)

    yield made
    await made.aclose()


async def run(app: Taskora, c: Any, timeout: float = 10) -> Any:
    worker = await app.start()
    try:
        handle = await c.adispatch()
        return await handle.aresult(timeout)
    finally:
        await worker.stop()


async def test_chain_hands_each_result_on(app: Taskora) -> None:
    add, double = app.get_task("add"), app.get_task("double")
    assert await run(app, chain(add.s({"a": 3, "b": 4}), double.s())) == 14
    assert await run(app, add.s({"a": 1, "b": 1}) | double.s() | double.s()) == 8


async def test_group_keeps_member_order_and_chord_gets_the_list(app: Taskora) -> None:
    add, double, total = app.get_task("add"), app.get_task("double"), app.get_task("total")
    members = [add.s({"a": i, "b": 0}) for i in range(5)]
    assert await run(app, group(*members)) == [0, 1, 2, 3, 4]
    assert await run(app, chord(members, total.s())) == 10
    fan = chain(add.s({"a": 2, "b": 3}), group(double.s(), add.s({"a": 0, "b": 1})), total.s())
    assert await run(app, fan) == 11  # the group fans 5 out, the next step gets [10, 1]


async def test_nested_chord_of_chains(app: Taskora) -> None:
    add, double, total = app.get_task("add"), app.get_task("double"), app.get_task("total")
    c = chord(
        [chain(add.s({"a": 1, "b": 2}), double.s()), chain(add.s({"a": 3, "b": 4}), double.s())],
        total.s(),
    )
    assert await run(app, c) == 20


async def test_map_and_chunks_that_run_one_after_another(app: Taskora) -> None:
    started: dict[int, float] = {}
    ended: dict[int, float] = {}

    @app.task("square")
    async def square(n: int) -> int:
        started[n] = time.monotonic()
        await asyncio.sleep(0.01)
        ended[n] = time.monotonic()
        return n * n

    assert await run(app, square.map([1, 2, 3])) == [1, 4, 9]
    started.clear()
    ended.clear()
    assert await run(app, square.chunk(range(6), size=2)) == [0, 1, 4, 9, 16, 25]
    for first, second in ((0, 2), (1, 2), (2, 4), (3, 4)):
        assert started[second] >= ended[first]  # chunk k+1 starts after chunk k ended


async def test_a_failing_node_fails_the_workflow_and_cancels_the_rest(app: Taskora) -> None:
    add, total = app.get_task("add"), app.get_task("total")
    release = asyncio.Event()

    @app.task("boom")
    async def boom(_: Any) -> None:
        raise RuntimeError("no")

    @app.task("slow")
    async def slow(n: int) -> int:
        await release.wait()
        return n

    worker = await app.start()
    try:
        handle = await chord([boom.s(1), slow.s(2), add.s({"a": 1, "b": 1})], total.s()).adispatch()
        with pytest.raises(JobFailedError, match="RuntimeError: no"):
            await handle.aresult(10)
        assert await handle.astate() == "failed"
        info = await app.workflows().aget(handle.id)
        assert info is not None
        states = {n.task: n.state for n in info.nodes}
        assert states["boom"] == "failed" and states["total"] == "cancelled"
        await until(lambda: _job_state(app, "slow", f"{handle.id}.1", "cancelled"))
    finally:
        release.set()
        await worker.stop()


async def test_cancel_mid_way(app: Taskora) -> None:
    double = app.get_task("double")
    gate = asyncio.Event()

    @app.task("hold")
    async def hold(n: int) -> int:
        await gate.wait()
        return n

    worker = await app.start()
    try:
        handle = await chain(hold.s(1), double.s()).adispatch()
        await until(lambda: _job_state(app, "hold", f"{handle.id}.0", "active"))
        assert await handle.acancel("enough") == "cancelled"
        with pytest.raises(CancelledError):
            await handle.aresult(5)
        await until(lambda: _job_state(app, "hold", f"{handle.id}.0", "cancelled"))
        info = await app.workflows().aget(handle.id)
        assert info is not None and info.reason == "enough"
        assert [n.state for n in info.nodes] == ["cancelled", "cancelled"]
        listed = await app.workflows().alist(state="cancelled")
        assert [w.id for w in listed] == [handle.id]
        assert listed[0].to_dict()["nodes"][1]["task"] == "double"
    finally:
        gate.set()
        await worker.stop()


async def test_a_workflow_past_its_ttl_is_cancelled_by_the_repair_pass(app: Taskora) -> None:
    add, double = app.get_task("add"), app.get_task("double")
    handle = await chain(add.s({"a": 1, "b": 2}), double.s()).adispatch(ttl="1m")
    engine = await app.runtime.engine()
    info = await app.workflows().aget(handle.id)
    assert info is not None and info.expires_ms == info.created_ms + 60_000
    assert (await repair_workflows(engine, info.created_ms + 59_000)).acted == 0
    # kept as long as failed jobs are (-1 = kept), not as completed ones (1 ms)
    repaired = await repair_workflows(engine, info.created_ms + 60_000, 1, failed_max_age=-1)
    assert repaired.acted == 1
    with pytest.raises(CancelledError):
        await handle.aresult(1)
    assert await engine.client.pttl(engine.workflows.key(handle.id)) == -1
    assert await engine.job_state("add", f"{handle.id}.0") == "cancelled"


async def test_a_node_job_cancelled_on_its_own_fails_its_workflow(app: Taskora) -> None:
    add, double = app.get_task("add"), app.get_task("double")
    handle = await chain(add.s({"a": 1, "b": 2}), double.s()).adispatch()
    assert await app.acancel(f"{handle.id}.0", task="add") == "cancelled"
    engine = await app.runtime.engine()
    assert (await repair_workflows(engine, app.clock())).acted == 1
    with pytest.raises(JobFailedError, match="node 0 ended cancelled"):
        await handle.aresult(1)


async def test_a_later_node_keeps_its_task_ttl_from_its_own_enqueue(app: Taskora) -> None:
    add = app.get_task("add")

    @app.task("brief", ttl="1m")
    async def brief(n: int) -> int:
        return n

    handle = await chain(add.s({"a": 1, "b": 2}), brief.s()).adispatch()
    engine = await app.runtime.engine()
    await enqueue_ready(
        engine, handle.id, (await engine.workflows.node_done(handle.id, [(0, "3")], 5))[1], 5
    )
    assert await engine.client.hget(engine.keys("brief").job(f"{handle.id}.1"), "exp") == "60005"


async def test_a_crash_between_node_done_and_enqueue_loses_and_repeats_nothing(
    app: Taskora,
) -> None:
    add, double = app.get_task("add"), app.get_task("double")
    handle = await chain(add.s({"a": 1, "b": 2}), double.s(), double.s()).adispatch()
    engine = await app.runtime.engine()
    wf = engine.workflows
    # node 0 ran and was acked; its worker died after node_done, before the enqueue
    state, ready = await wf.node_done(handle.id, [(0, "3")], 1)
    assert state == "running" and [r.node for r in ready] == [1] and ready[0].data == "3"
    again = await wf.node_done(handle.id, [(0, "3")], 2)  # the repeat hands back the same node
    assert again == (state, ready)
    await enqueue_ready(engine, handle.id, again[1], 2)
    await enqueue_ready(engine, handle.id, again[1], 2)  # twice: still one job
    assert await engine.counts("double") == {**await engine.counts("double"), "waiting": 1}
    worker = await app.start()
    try:
        assert await handle.aresult(10) == 12
    finally:
        await worker.stop()
    assert (await engine.counts("double"))["completed"] == 2


async def test_the_repair_pass_finishes_what_a_dead_worker_left(app: Taskora) -> None:
    add, double = app.get_task("add"), app.get_task("double")
    handle = await chain(add.s({"a": 1, "b": 2}), double.s(), double.s()).adispatch()
    engine = await app.runtime.engine()
    t = app.clock()
    # a worker acked node 0 and died before node_done
    (job,) = await engine.claim("add", "w-dead", 1, t + 1, 60_000)
    await engine.ack_and_claim("add", [Ack(job.id, job.token, "3")], "w-dead", 0, t + 2, 60_000)
    assert (await repair_workflows(engine, t + 3)).acted == 1
    # another died after node_done for node 1, before enqueueing node 2
    (job,) = await engine.claim("double", "w-dead", 1, t + 4, 60_000)
    await engine.ack_and_claim("double", [Ack(job.id, job.token, "6")], "w-dead", 0, t + 5, 60_000)
    await engine.workflows.node_done(handle.id, [(1, "6")], t + 5)
    assert await engine.job_state("double", f"{handle.id}.2") is None
    assert (await repair_workflows(engine, t + 6)).acted == 1
    assert (await repair_workflows(engine, t + 6)).acted == 0  # node 2 waits: nothing to do
    worker = await app.start()
    try:
        assert await handle.aresult(10) == 12
    finally:
        await worker.stop()
    assert await engine.workflows.running() == []  # its worker moved it to the ended list
    assert (await repair_workflows(engine, app.clock())).looked == 0


async def _job_state(app: Taskora, task: str, job_id: str, state: str) -> bool:
    engine = await app.runtime.engine()
    return await engine.job_state(task, job_id) == state


def _a_later_ms(app: Taskora) -> Callable[[], bool]:
    last = app.clock()
    return lambda: app.clock() > last


async def _listed(app: Taskora, workflow_id: str) -> list[str]:
    """The lists (ZSETs) that name ``workflow_id``."""
    engine = await app.runtime.engine()
    names = ("workflows", "workflows:running", "workflows:completed", "workflows:stopped")
    found = []
    for name in names:
        if await engine.client.zscore(f"taskora:{{_global}}:{name}", workflow_id) is not None:
            found.append(name)
    return found


async def test_retention_trims_ended_workflows_by_age_and_count_each_kind_apart(
    app: Taskora,
) -> None:
    add = app.get_task("add")
    engine = await app.runtime.engine()
    one = [await add.s({"a": i, "b": 0}).adispatch() for i in range(5)]
    c1, c2, f1, f2, running = one
    t = app.clock()
    await advance(engine, c1.id, [(0, "0")], t + 1)
    await advance(engine, c2.id, [(0, "1")], t + 2)
    await fail_node(engine, f1.id, 0, '{"type":"E","message":"x"}', t + 3)
    await fail_node(engine, f2.id, 0, '{"type":"E","message":"x"}', t + 4)
    assert await _listed(app, c1.id) == ["workflows", "workflows:completed"]
    assert await _listed(app, f1.id) == ["workflows", "workflows:stopped"]
    # completed ones: at most one, for 100 ms; failed ones: 5, for ever
    kept = Retention(100, 1, -1, 5)
    assert await trim_workflows(engine, kept, t + 50) == 1  # c1, beyond the count
    assert await trim_workflows(engine, kept, t + 102) == 1  # c2, past the age
    assert await trim_workflows(engine, kept, t + 10**9) == 0  # failed ones count apart
    for gone in (c1, c2):
        assert await gone.astate() == "missing" and await _listed(app, gone.id) == []
    assert await trim_workflows(engine, Retention(-1, -1, 10, -1), t + 13) == 1  # f1 by age
    assert await trim_workflows(engine, Retention(-1, -1, -1, 0), t + 13) == 1  # f2 by count
    for gone in (f1, f2):
        assert await gone.astate() == "missing" and await _listed(app, gone.id) == []
    assert await trim_workflows(engine, Retention(0, 0, 0, 0), t + 10**9) == 0
    assert await running.astate() == "running"  # running ones stay whatever the limits
    assert await _listed(app, running.id) == ["workflows", "workflows:running"]
    assert [w.id for w in await app.workflows().alist()] == [running.id]


async def test_a_late_node_done_on_a_trimmed_workflow_writes_nothing(app: Taskora) -> None:
    add, double = app.get_task("add"), app.get_task("double")
    handle = await chain(add.s({"a": 1, "b": 2}), double.s()).adispatch()
    engine = await app.runtime.engine()
    await handle.acancel()
    assert await trim_workflows(engine, Retention(-1, -1, -1, 0), app.clock()) == 1
    # the node's worker acked it just before, and records it only now
    key = engine.workflows.key(handle.id)
    assert await advance(engine, handle.id, [(0, "3")], app.clock()) == set()
    assert await engine.workflows.nodes_enqueued(handle.id, [1]) == 0
    assert await engine.workflows.node_failed(handle.id, 0, "{}", app.clock()) == []
    await fail_node(engine, handle.id, 0, "{}", app.clock())
    assert await engine.client.exists(key) == 0
    assert await engine.job_state("double", f"{handle.id}.1") is None
    assert await _listed(app, handle.id) == []  # nothing listed it again


async def test_the_repair_pass_reads_only_workflows_idle_past_the_interval(
    app: Taskora,
) -> None:
    add, double = app.get_task("add"), app.get_task("double")
    engine = await app.runtime.engine()
    handles = [
        await chain(add.s({"a": i, "b": 0}), double.s(), double.s()).adispatch() for i in range(5)
    ]
    now = app.clock() + 5_000
    for handle in handles[:4]:  # these moved on 100 ms ago; the last has been idle since dispatch
        await advance(engine, handle.id, [(0, "1")], now - 100)
    assert await repair_workflows(engine, now, grace_ms=1_000) == (5, 1, 0)
    assert (await repair_workflows(engine, now + 500, grace_ms=1_000)).looked == 0
    # a grace after they last moved on, the pass reads them (their nodes still wait), and
    # not the one it read at ``now`` yet
    assert await repair_workflows(engine, now + 950, grace_ms=1_000) == (4, 4, 0)
    assert (await repair_workflows(engine, now + 950, grace_ms=1_000)).looked == 0


async def test_a_node_job_trimmed_between_ack_and_advance_fails_only_if_still_gone_later(
    app: Taskora,
) -> None:
    add, double = app.get_task("add"), app.get_task("double")
    engine = await app.runtime.engine()
    keep_none = Retention(-1, 0, -1, -1)
    suspects: dict[tuple[str, int], int] = {}
    t = app.clock() + 10_000
    outcomes = {}
    for live in (True, False):
        handle = await chain(add.s({"a": 1, "b": 2}), double.s()).adispatch()
        (job,) = await engine.claim("add", "w", 1, t, 60_000)
        await engine.ack_and_claim(
            "add", [Ack(job.id, job.token, "3")], "w", 0, t, 60_000, keep_none
        )
        repaired = await repair_workflows(engine, t + 1, grace_ms=1_000, suspects=suspects)
        assert repaired.acted == 0 and await handle.astate() == "running"  # not yet
        if live:  # its worker records the result right after
            await advance(engine, handle.id, [(0, "3")], t + 2)
        await repair_workflows(engine, t + 1_001, grace_ms=1_000, suspects=suspects)
        outcomes[live] = await handle.astate()
        t += 10_000
    assert outcomes == {True: "running", False: "failed"}
    assert await engine.job_state("add", f"{handle.id}.0") is None  # never enqueued again


async def _gone_fails_it(app: Taskora, handle: Any, now: int, node: int = 0) -> None:
    engine = await app.runtime.engine()
    assert (await repair_workflows(engine, now)).acted == 1
    assert await engine.workflows.read(handle.id) == {
        **await engine.workflows.read(handle.id),
        "state": "failed",
        "failed_node": str(node),
    }
    with pytest.raises(JobFailedError, match="is gone"):
        await handle.aresult(1)


async def test_a_node_whose_job_retention_trimmed_before_node_done_is_not_run_again(
    app: Taskora,
) -> None:
    add, double = app.get_task("add"), app.get_task("double")
    handle = await chain(add.s({"a": 1, "b": 2}), double.s()).adispatch()
    engine = await app.runtime.engine()
    t = app.clock()
    (job,) = await engine.claim("add", "w-dead", 1, t + 1, 60_000)
    # acked keeping no completed job; its worker died before node_done
    keep_none = Retention(-1, 0, -1, -1)
    await engine.ack_and_claim(
        "add", [Ack(job.id, job.token, "3")], "w-dead", 0, t + 2, 60_000, keep_none
    )
    assert await engine.job_state("add", job.id) is None
    await _gone_fails_it(app, handle, t + 3)
    assert await engine.job_state("add", job.id) is None  # not enqueued again


async def test_a_removed_or_discarded_node_job_fails_the_workflow(app: Taskora) -> None:
    @app.task("brief", ttl={"max": "1m", "on_expire": "discard"})
    async def brief(n: int) -> int:
        return n

    add, double = app.get_task("add"), app.get_task("double")
    removed = await chain(add.s({"a": 1, "b": 2}), double.s()).adispatch()
    engine = await app.runtime.engine()
    await engine.admin.delete("add", f"{removed.id}.0")
    await _gone_fails_it(app, removed, app.clock())
    assert await engine.job_state("add", f"{removed.id}.0") is None

    discarded = await chain(brief.s(1), double.s()).adispatch()
    late = app.clock() + 120_000
    assert await engine.claim("brief", "w", 1, late, 60_000) == []  # discarded: past its ttl
    await _gone_fails_it(app, discarded, late)
    assert await engine.job_state("brief", f"{discarded.id}.0") is None


async def test_a_stop_sent_again_or_left_half_done_still_cancels_the_jobs(app: Taskora) -> None:
    add = app.get_task("add")
    engine = await app.runtime.engine()
    error = '{"type":"E","message":"x"}'
    handle = await group(add.s({"a": 1, "b": 1}), add.s({"a": 2, "b": 2})).adispatch()
    first = await engine.workflows.node_failed(handle.id, 0, error, 5)
    # the reply of the first call was lost: the call sent again names the same nodes
    assert await engine.workflows.node_failed(handle.id, 0, error, 6) == first
    assert (1, "add") in first
    # a cancel whose caller died before cancelling the jobs: the repair pass does it
    other = await group(add.s({"a": 1, "b": 1}), add.s({"a": 2, "b": 2})).adispatch()
    assert (await engine.workflows.cancel(other.id, "stop", 7))[0] == "running"
    assert await engine.job_state("add", f"{other.id}.1") == "waiting"
    await repair_workflows(engine, app.clock())
    assert await engine.job_state("add", f"{other.id}.0") == "cancelled"
    assert await engine.job_state("add", f"{other.id}.1") == "cancelled"
    assert await engine.workflows.running() == []
