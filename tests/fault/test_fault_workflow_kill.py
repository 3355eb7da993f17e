"""kill -9 of a worker mid-workflow: the workflow completes on another worker, every node's job
completes exactly once, and only the node in flight at the kill starts again."""

from __future__ import annotations

from pathlib import Path

import pytest
from fault_harness import Fleet, Journal, Server, sigkill, wait_for
from fault_procs import ASYNC_TASK, build_app

from taskora_cli import chain, group
from taskora_cli.engine.keys import workflow_key

pytestmark = pytest.mark.fault


async def test_a_worker_killed_mid_workflow_leaves_it_to_complete_once(
    redis_url: str, root: Path, fleet: Fleet, server: Server
) -> None:
    app = build_app(redis_url, str(root), None)
    step = app.get_task(ASYNC_TASK)
    node = {"sleep": 0.3, "once": True}  # a rerun ends at once
    handle = await chain(
        group(*(step.s(node) for _ in range(4))), *(step.s(node) for _ in range(4))
    ).adispatch()
    await app.aclose()
    ids = [f"{handle.id}.{i}" for i in range(8)]
    journal = root / "journal"
    doomed = fleet.worker(redis_url, journal, "--concurrency", "4", name="doomed")

    def completed() -> set[str]:  # by the server: a handler's journalled end may not be acked yet
        return {i for i, state in server.state_of(ASYNC_TASK, ids).items() if state == "completed"}

    wait_for(lambda: len(completed()) >= 5, 30, "the group and a step to complete")
    sigkill(doomed.pid)
    assert doomed.process.wait(10) == -9
    finished = completed()
    assert 5 <= len(finished) < 8

    fleet.worker(redis_url, journal, "--concurrency", "4", name="survivor")
    key = workflow_key("", handle.id)
    wait_for(lambda: server.client.hget(key, "state") == "completed", 30, "the workflow to end")
    assert server.states(ASYNC_TASK, ids) == {"completed": 8}
    completions = server.completion_events(ASYNC_TASK)
    assert {i: completions[i] for i in ids} == dict.fromkeys(ids, 1)
    starts = Journal.read(journal).starts
    assert all(starts[i] == 1 for i in finished)  # nothing that had completed ran again
    assert sum(starts[i] for i in ids) <= 9  # at most the one node in flight started twice
