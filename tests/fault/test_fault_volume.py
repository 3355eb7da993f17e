"""16,000 jobs from 8 dispatcher processes at once, run by 2 worker processes: exactly 16,000
completions, none run twice, none lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from fault_harness import Fleet, Journal, Server, wait_for
from fault_procs import ASYNC_TASK

pytestmark = pytest.mark.fault

DISPATCHERS = 8
PER_DISPATCHER = 2_000
TOTAL = DISPATCHERS * PER_DISPATCHER


async def test_16000_jobs_from_8_dispatchers_complete_exactly_once_on_2_workers(
    redis_url: str, root: Path, fleet: Fleet, server: Server
) -> None:
    journal = root / "journal"
    for n in range(2):
        fleet.worker(redis_url, journal, "--concurrency", "64", name=f"worker{n}")
    acks = [root / f"acks{n}" for n in range(DISPATCHERS)]
    dispatchers = [
        fleet.dispatcher(
            redis_url, a, "--count", str(PER_DISPATCHER), "--batch", "250", name=f"dispatch{n}"
        )
        for n, a in enumerate(acks)
    ]
    for dispatcher in dispatchers:
        dispatcher.finish(60)
    acked = Journal.read(*acks).acks
    assert len(acked) == TOTAL

    wait_for(lambda: server.completed(ASYNC_TASK) >= TOTAL, 90, "16,000 completions")
    ran = Journal.read(journal)
    assert server.completed(ASYNC_TASK) == TOTAL
    assert server.states(ASYNC_TASK, list(acked)) == {"completed": TOTAL}
    assert set(ran.starts) == set(acked)
    assert [i for i, n in ran.starts.items() if n != 1] == []  # no duplicate
    assert sum(ran.ends.values()) == TOTAL
    assert server.active(ASYNC_TASK) == 0
