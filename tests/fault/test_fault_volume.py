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
    # Locks that outlast any stall a loaded machine imposes on a worker's event loop: the
    # harness's default 500 ms TTL (made for the stall tests) runs out when 8 dispatchers and
    # 2 busy workers share 2 cores with other load, and the other worker's sweep then reruns
    # the job: at-least-once working as designed, but not the property this test measures.
    for n in range(2):
        fleet.worker(
            redis_url, journal, "--concurrency", "64", "--lock-ttl-ms", "30000",
            "--heartbeat-ms", "1000", "--stall-ms", "1000", name=f"worker{n}",
        )  # fmt: skip
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
    twice = [i for i, n in ran.starts.items() if n != 1]
    assert twice == [], _why_twice(twice, journal, root)  # no duplicate
    assert sum(ran.ends.values()) == TOTAL
    assert server.active(ASYNC_TASK) == 0


def _why_twice(twice: list[str], journal: Path, root: Path) -> str:
    """What a failure needs to be understood: the duplicates' journal lines (attempt, pid) and
    what the workers logged of lost locks and recovered jobs."""
    lines = [line for line in journal.read_text().splitlines() if line.split()[1] in twice[:5]]
    logged = [
        line
        for log in sorted(root.glob("worker*.log"))
        for line in log.read_text().splitlines()
        if "lock" in line or "stall" in line or "beating" in line
    ]
    return f"{len(twice)} ran twice; e.g. {lines}; workers logged: {logged[:20]}"
