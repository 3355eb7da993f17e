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
from taskora_cli.workflow import WorkflowHandle, enqueue_ready, repair_workflows, trim_workflows


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
    assert await repair_workflows(engine, info.created_ms + 59_000) == 0
    # kept as long as failed jobs are (-1 = kept), not as completed ones (1 ms)
    assert await repair_workflows(engine, info.created_ms + 60_000, 1, failed_max_age=-1) == 1
    with pytest.raises(CancelledError):
        await handle.aresult(1)
    assert await engine.client.pttl(engine.workflows.key(handle.id)) == -1
    assert await engine.job_state("add", f"{handle.id}.0") == "cancelled"


async def test_a_node_job_cancelled_on_its_own_fails_its_workflow(app: Taskora) -> None:
    add, double = app.get_task("add"), app.get_task("double")
    handle = await chain(add.s({"a": 1, "b": 2}), double.s()).adispatch()
    assert await app.acancel(f"{handle.id}.0", task="add") == "cancelled"
    engine = await app.runtime.engine()
    assert await repair_workflows(engine, app.clock()) == 1
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
    # a worker acked node 0 and died before node_done
    (job,) = await engine.claim("add", "w-dead", 1, 1, 60_000)
    await engine.ack_and_claim("add", [Ack(job.id, job.token, "3")], "w-dead", 0, 2, 60_000)
    assert await repair_workflows(engine, 3) == 1
    # another died after node_done for node 1, before enqueueing node 2
    (job,) = await engine.claim("double", "w-dead", 1, 4, 60_000)
    await engine.ack_and_claim("double", [Ack(job.id, job.token, "6")], "w-dead", 0, 5, 60_000)
    await engine.workflows.node_done(handle.id, [(1, "6")], 5)
    assert await engine.job_state("double", f"{handle.id}.2") is None
    assert await repair_workflows(engine, 6) == 1
    assert await repair_workflows(engine, 6) == 0  # node 2 waits: nothing left to repair
    worker = await app.start()
    try:
        assert await handle.aresult(10) == 12
    finally:
        await worker.stop()
    assert await repair_workflows(engine, 7) == 0
    assert await engine.workflows.running() == []  # the ended workflow left the list


async def _job_state(app: Taskora, task: str, job_id: str, state: str) -> bool:
    engine = await app.runtime.engine()
    return await engine.job_state(task, job_id) == state


def _a_later_ms(app: Taskora) -> Callable[[], bool]:
    last = app.clock()
    return lambda: app.clock() > last


async def test_ended_workflows_beyond_the_count_are_trimmed_running_ones_kept(
    app: Taskora,
) -> None:
    add = app.get_task("add")
    handles: list[WorkflowHandle] = []
    for i in range(3):  # each in its own ms: the list orders ties by (random) id
        if handles:
            await until(_a_later_ms(app))
        handles.append(await add.s({"a": i, "b": 0}).adispatch())
    engine = await app.runtime.engine()
    await handles[0].acancel()
    await handles[1].acancel()
    assert await trim_workflows(engine, 1) == 2  # the two oldest ended; the newest is kept
    assert [w.id for w in await app.workflows().alist()] == [handles[2].id]
    assert await handles[0].astate() == "missing"
    assert await trim_workflows(engine, 0) == 0  # still running: kept whatever the count


async def _gone_fails_it(app: Taskora, handle: Any, now: int, node: int = 0) -> None:
    engine = await app.runtime.engine()
    assert await repair_workflows(engine, now) == 1
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
    (job,) = await engine.claim("add", "w-dead", 1, 1, 60_000)
    # acked keeping no completed job; its worker died before node_done
    keep_none = Retention(-1, 0, -1, -1)
    await engine.ack_and_claim(
        "add", [Ack(job.id, job.token, "3")], "w-dead", 0, 2, 60_000, keep_none
    )
    assert await engine.job_state("add", job.id) is None
    await _gone_fails_it(app, handle, 3)
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
    await repair_workflows(engine, 8)
    assert await engine.job_state("add", f"{other.id}.0") == "cancelled"
    assert await engine.job_state("add", f"{other.id}.1") == "cancelled"
    assert await engine.workflows.running() == []
