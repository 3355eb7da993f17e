"""Engine.version_counts: the payload versions of a task's unfinished jobs, read in pages."""

from __future__ import annotations

import json

from taskora_cli.engine.engine import Engine
from taskora_cli.engine.records import NewJob
from taskora_cli.versioning import Versioning, raisable_since

NOW = 1_700_000_000_000


def stamped(job_id: str, version: int, **kw: int) -> NewJob:
    fields = Versioning.build(version=version).stamp()
    return NewJob(job_id, "{}", extra=json.dumps(fields) if fields else "", **kw)


async def test_version_counts_per_place_across_pages(redis_url: str) -> None:
    engine = Engine(redis_url)
    try:
        await engine.connect(NOW)
        jobs = [stamped(f"a{i}", 1) for i in range(3)] + [stamped(f"b{i}", 2) for i in range(2)]
        jobs += [stamped("p", 3, priority=5), stamped("d", 2, run_at_ms=NOW + 60_000)]
        await engine.enqueue_bulk("mail", jobs, NOW)
        claimed = await engine.claim("mail", "w1", 2, NOW, 30_000)  # p (prioritized), a0
        assert [(job.id, job.version) for job in claimed] == [("p", 3), ("a0", 1)]

        counts = await engine.version_counts("mail", batch=2)  # pages of 2: several per line
        assert counts.waiting == {1: 2, 2: 2}
        assert counts.active == {1: 1, 3: 1}
        assert counts.delayed == {2: 1}
        assert counts.total() == {1: 3, 2: 3, 3: 1}
        assert raisable_since(counts.total(), since=1, version=3) == 1
        assert await engine.version_counts("other") == ({}, {}, {})
    finally:
        await engine.close()
