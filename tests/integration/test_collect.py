"""Collect (batching) end to end: dispatches accumulate and the handler receives a list,
flushed by whichever trigger comes first; peek/inspect read the buffer without draining it."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import VirtualClock

from taskora_cli import CollectInfo, Taskora, UsageError
from taskora_cli.config import load_config


@pytest.fixture
async def app(redis_url: str, tmp_path: Path, clock: VirtualClock) -> Taskora:
    made = Taskora(redis_url, config=load_config(env={}, cwd=tmp_path), clock=clock)
    yield made
    await made.aclose()


async def test_items_flush_as_one_list_after_the_quiet_delay(
    app: Taskora, clock: VirtualClock
) -> None:
    batches: list[list[dict[str, int]]] = []

    @app.task("insert", collect={"key": "rows", "delay": "5s", "max_wait": "1m"})
    async def insert(rows: list[dict[str, int]]) -> int:
        batches.append(rows)
        return len(rows)

    handles = [await insert.adispatch({"n": n}) for n in range(3)]
    assert len({h.id for h in handles}) == 1  # every item joined the same batch job
    assert await insert.apeek_collect("rows") == [{"n": 0}, {"n": 1}, {"n": 2}]
    info = await insert.ainspect_collect("rows")
    assert isinstance(info, CollectInfo) and info.count == 3
    assert info.oldest_at_ms <= info.newest_at_ms
    worker = await app.start()
    try:
        assert await insert.apeek_collect("rows") == [{"n": 0}, {"n": 1}, {"n": 2}]  # not yet
        clock.offset_ms += 5_001
        assert await handles[0].aresult(10) == 3
        assert batches == [[{"n": 0}, {"n": 1}, {"n": 2}]]
        assert await insert.apeek_collect("rows") == []  # the handler owns the items now
        assert await insert.ainspect_collect("rows") is None
    finally:
        await worker.stop()


async def test_max_size_flushes_at_once_and_keys_route_items(app: Taskora) -> None:
    batches: list[list[str]] = []

    @app.task(
        "by-region",
        collect={"key": lambda item: f"region:{item[:2]}", "delay": "1h", "max_size": 2},
    )
    async def by_region(items: list[str]) -> None:
        batches.append(items)

    first = await by_region.adispatch("eu-1")
    await by_region.adispatch("us-1")
    last = await by_region.adispatch("eu-2")  # the second eu item fills that batch
    worker = await app.start()
    try:
        await last.aresult(10)
        assert first.id == last.id
        assert batches == [["eu-1", "eu-2"]]
        assert await by_region.apeek_collect("region:us") == ["us-1"]
    finally:
        await worker.stop()


async def test_collect_misuse_is_a_usage_error(app: Taskora) -> None:
    @app.task("plain")
    async def plain(data: None) -> None: ...

    @app.task("batch", collect={"key": "k", "delay": 1})
    async def batch(items: list[None]) -> None: ...

    with pytest.raises(UsageError, match="has no collect option"):
        await plain.apeek_collect("k")
    with pytest.raises(UsageError, match="throttle"):
        await batch.adispatch(None, throttle={"key": "k", "max": 1, "window": 1})
    with pytest.raises(UsageError, match="collect delay"):
        app.task("bad", collect={"key": "k", "delay": 0})


async def test_dispatch_many_pushes_nothing_when_one_item_has_no_key(app: Taskora) -> None:
    @app.task("rows", collect={"key": lambda row: row["k"], "delay": "1h"})
    async def rows(items: list[dict[str, str]]) -> None: ...

    with pytest.raises(KeyError):
        await rows.adispatch_many([{"k": "a"}, {"k": "a"}, {"no-key": "x"}])
    assert await rows.apeek_collect("a") == []  # the good items did not go in alone
    handles = await rows.adispatch_many([{"k": "a"}, {"k": "a"}])
    assert len({h.id for h in handles}) == 1 and len(await rows.apeek_collect("a")) == 2
