"""A worker's ack moves its workflow on in the same call (ack_and_advance): the next node of
the same task is enqueued, and claimed, by the ack of the node before it. A workflow's id puts
its hash in the slot of its most frequent task, so the call touches one slot (a cluster too)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support import make_app

from taskora_cli import Taskora, UsageError, chain, group
from taskora_cli.engine.engine import Engine
from taskora_cli.engine.records import Ack, NewJob, Retention
from taskora_cli.engine.runner import Runner
from taskora_cli.engine.slots import shares_slot, workflow_id_in_slot_of
from taskora_cli.engine.workflows import NodeSpec
from taskora_cli.worker.pool import Worker

NOW = 1_700_000_000_000
TTL = 30_000
C1, C2, C3, C4, C5, C6, C7, C8 = (workflow_id_in_slot_of("t") for _ in range(8))
"""Workflow ids whose hash is in the slot of task "t", as dispatch makes them."""


@pytest.fixture
async def engine(redis_url: str) -> AsyncIterator[Engine]:
    made = Engine(redis_url, "ackpath")
    await made.connect(NOW)
    yield made
    await made.close()


async def started(
    engine: Engine, workflow: str, nodes: list[NodeSpec], out: tuple[int, ...]
) -> Any:
    """Create the workflow, enqueue its first node (a job of task "t") and claim it."""
    await engine.workflows.create(workflow, "wf", nodes, out, NOW)
    await engine.enqueue("t", NewJob(f"{workflow}.0", nodes[0].data or "null"), NOW)
    await engine.workflows.nodes_enqueued(workflow, [0])
    [job] = await engine.claim("t", "w1", 1, NOW, TTL)
    return job


async def node_states(engine: Engine, workflow: str) -> dict[str, str]:
    stored = await engine.workflows.read(workflow)
    return {name: value for name, value in stored.items() if name.startswith("s:")}


async def test_the_ack_of_a_chain_step_enqueues_and_claims_the_next_step_of_its_task(
    engine: Engine,
) -> None:
    nodes = [NodeSpec("t", (), (1,), "1"), NodeSpec("t", (0,), (2,), None),
             NodeSpec("t", (1,), (), None)]  # fmt: skip
    first = await started(engine, C1, nodes, (2,))
    flags, [second], advanced = await engine.ack_and_advance(
        "t", [Ack(first.id, first.token, "2")], C1, "w1", 1, NOW + 1, TTL
    )
    assert flags == [1] and advanced == ("running", [])
    assert (second.id, json.loads(second.data)) == (f"{C1}.1", 2)  # its input: the step's result
    assert await node_states(engine, C1) == {"s:0": "done", "s:1": "queued", "s:2": "pending"}
    assert await engine.job_state("t", f"{C1}.1") == "active"

    flags, [third], _ = await engine.ack_and_advance(
        "t", [Ack(second.id, second.token, "4")], C1, "w1", 1, NOW + 2, TTL
    )
    assert (third.id, json.loads(third.data)) == (f"{C1}.2", 4)
    keep = Retention(60_000, 100, 60_000, 100)
    flags, claimed, advanced = await engine.ack_and_advance(
        "t", [Ack(third.id, third.token, "8")], C1, "w1", 1, NOW + 3, TTL, keep
    )
    assert (flags, claimed, advanced) == ([1], [], ("completed", []))
    ended = await engine.workflows.ending(C1)
    assert (ended["state"], json.loads(ended["result"])) == ("completed", 8)
    assert 0 < await engine.client.pttl(engine.workflows.key(C1)) <= 60_000  # retention


async def test_nodes_of_another_task_are_handed_back_for_the_caller_to_enqueue(
    engine: Engine,
) -> None:
    nodes = [NodeSpec("t", (), (1, 2), "1"), NodeSpec("other", (0,), (), None),
             NodeSpec("t", (0,), (), '{"bound": true}', '{"v":"7"}', 5_000)]  # fmt: skip
    first = await started(engine, C2, nodes, (1, 2))
    _, claimed, advanced = await engine.ack_and_advance(  # claims none: its node stays waiting
        "t", [Ack(first.id, first.token, "3")], C2, "w1", 0, NOW + 1, TTL
    )
    assert claimed == []
    assert advanced is not None
    state, [theirs] = advanced
    assert (state, theirs.node, theirs.task, theirs.data) == ("running", 1, "other", "3")
    assert await engine.job_state("other", f"{C2}.1") is None  # the caller enqueues it
    assert await node_states(engine, C2) == {"s:0": "done", "s:1": "ready", "s:2": "queued"}
    # its own next node took its bound data, its task's extra fields and its TTL
    assert await engine.job_state("t", f"{C2}.2") == "waiting"
    stored = await engine.client.hgetall(engine.keys("t").job(f"{C2}.2"))
    assert (stored["v"], int(stored["exp"])) == ("7", NOW + 1 + 5_000)
    [mine] = await engine.claim("t", "w1", 1, NOW + 2, TTL)
    assert (mine.id, json.loads(mine.data)) == (f"{C2}.2", {"bound": True})


async def test_a_call_sent_again_settles_and_enqueues_nothing_more(engine: Engine) -> None:
    nodes = [NodeSpec("t", (), (1,), "1"), NodeSpec("t", (0,), (), None)]
    first = await started(engine, C3, nodes, (1,))
    acks = [Ack(first.id, first.token, "2")]
    _, once, _ = await engine.ack_and_advance("t", acks, C3, "w1", 1, NOW + 1, TTL, request="r1")
    flags, again, advanced = await engine.ack_and_advance(
        "t", acks, C3, "w1", 1, NOW + 2, TTL, request="r1"
    )
    assert (flags, again, advanced) == ([1], once, None)  # the first reply; redo the advance
    assert await engine.workflows.node_done(C3, [(0, "2")], NOW + 2) == ("running", [])
    counts = await engine.counts("t")
    assert (counts["active"], counts["waiting"]) == (1, 0)  # the next step, claimed once


async def test_a_stopped_workflow_gets_no_next_node_and_a_cancelled_node_moves_nothing(
    engine: Engine,
) -> None:
    nodes = [NodeSpec("t", (), (1,), "1"), NodeSpec("t", (0,), (), None)]
    first = await started(engine, C4, nodes, (1,))
    await engine.workflows.cancel(C4, "enough", NOW)
    flags, claimed, advanced = await engine.ack_and_advance(
        "t", [Ack(first.id, first.token, "2")], C4, "w1", 1, NOW + 1, TTL
    )
    assert (flags, claimed, advanced) == ([1], [], ("cancelled", []))
    assert await engine.job_state("t", f"{C4}.1") is None

    first = await started(engine, C5, nodes, (1,))
    await engine.cancel("t", first.id, "stop it", NOW)  # asked to cancel while it ran
    flags, claimed, advanced = await engine.ack_and_advance(
        "t", [Ack(first.id, first.token, "2")], C5, "w1", 1, NOW + 1, TTL
    )
    assert (flags, claimed, advanced) == ([2], [], ("running", []))
    assert await node_states(engine, C5) == {"s:0": "queued", "s:1": "pending"}


async def test_a_plain_job_beside_the_node_is_acked_and_moves_nothing(engine: Engine) -> None:
    nodes = [NodeSpec("t", (), (1,), "1"), NodeSpec("t", (0,), (), None)]
    first = await started(engine, C6, nodes, (1,))
    await engine.enqueue("t", NewJob("plain", "5"), NOW)
    [plain] = await engine.claim("t", "w1", 1, NOW, TTL)
    acks = [Ack(plain.id, plain.token, "5"), Ack(first.id, first.token, "2")]
    flags, [second], _ = await engine.ack_and_advance("t", acks, C6, "w1", 1, NOW + 1, TTL)
    assert flags == [1, 1] and second.id == f"{C6}.1"
    assert await engine.job_state("t", "plain") == "completed"


async def test_a_big_fan_out_of_its_task_enqueues_a_thousand_and_hands_the_rest_back(
    engine: Engine,
) -> None:
    members = 1_200
    nodes = [NodeSpec("t", (), tuple(range(1, members + 1)), "1")]
    nodes += [NodeSpec("t", (0,), (), None) for _ in range(members)]
    first = await started(engine, C7, nodes, tuple(range(1, members + 1)))
    events = engine.keys("t").events
    before = await engine.client.xlen(events)
    _, claimed, advanced = await engine.ack_and_advance(
        "t", [Ack(first.id, first.token, "2")], C7, "w1", 0, NOW + 1, TTL
    )
    assert claimed == [] and advanced is not None
    state, rest = advanced  # a bounded script: the caller bulk-enqueues the rest
    assert (state, len(rest), {node.task for node in rest}) == ("running", 200, {"t"})
    assert (await engine.counts("t"))["waiting"] == 1_000
    assert await engine.client.zscore(engine.keys("t").marker, "0") == 0  # idle workers look
    # the thousand "waiting" events go out in entries of 32 jobs, as a bulk enqueue's do
    entries = await engine.client.xrange(events, count=10_000)
    waiting = [fields for _, fields in entries[before:] if fields["event"] == "waiting"]
    assert len(waiting) == 32 and sum(len(f["job"].split()) for f in waiting) == 1_000
    states = await node_states(engine, C7)
    assert sum(1 for value in states.values() if value == "queued") == 1_000
    assert sum(1 for value in states.values() if value == "ready") == 200


async def test_due_delayed_jobs_are_queued_before_the_next_node(engine: Engine) -> None:
    nodes = [NodeSpec("t", (), (1,), "1"), NodeSpec("t", (0,), (), None)]
    first = await started(engine, C8, nodes, (1,))
    await engine.enqueue("t", NewJob("due", "0", run_at_ms=NOW + 5), NOW)
    _, claimed, _ = await engine.ack_and_advance(
        "t", [Ack(first.id, first.token, "2")], C8, "w1", 2, NOW + 10, TTL
    )
    assert [job.id for job in claimed] == ["due", f"{C8}.1"]  # it was due first


async def test_a_workflow_in_another_slot_is_refused_before_anything_is_sent(
    engine: Engine,
) -> None:
    task_key = engine.keys("t").tag
    elsewhere = next(w for w in (workflow_id_in_slot_of("u") for _ in range(50))
                     if not shares_slot(engine.workflows.key(w), task_key))  # fmt: skip
    with pytest.raises(UsageError, match="not in the slot of task 't'"):
        await engine.ack_and_advance("t", [Ack(f"{elsewhere}.0", "x", "1")], elsewhere, "w1",
                                     1, NOW, TTL)  # fmt: skip


@pytest.fixture
async def app(redis_url: str, tmp_path: Path) -> AsyncIterator[Taskora]:
    made = make_app(redis_url, tmp_path)

    @made.task("double")
    async def double(n: int) -> int:
        return n * 2

    @made.task("add_one")
    async def add_one(n: int) -> int:
        return n + 1

    yield made
    await made.aclose()


async def test_a_worker_runs_a_chain_of_one_task_with_no_call_of_its_own_per_step(
    app: Taskora, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    original = Runner.run

    async def recording(self: Runner, name: str, keys: Any, args: Any) -> Any:
        calls.append(name)
        return await original(self, name, keys, args)

    monkeypatch.setattr(Runner, "run", recording)
    double, add_one = app.get_task("double"), app.get_task("add_one")
    worker = Worker(app, [double, add_one])
    await worker.start()
    try:
        steps = chain(double.s(1), *(double.s() for _ in range(9)))
        assert await (await steps.adispatch()).aresult(10) == 1024
        advancing = [name for name in calls if name.startswith("workflow_")]
        assert advancing == ["workflow_create", "workflow_nodes_enqueued"]  # the dispatch's
        assert calls.count("ack_and_advance") == 10
        # a chain across two tasks, and a group: the ack hands the other task's nodes on
        mixed = chain(double.s(2), add_one.s(), double.s(), group(add_one.s(), double.s()))
        assert await (await mixed.adispatch()).aresult(10) == [11, 20]
    finally:
        await worker.stop()
