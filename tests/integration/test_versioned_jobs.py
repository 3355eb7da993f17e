"""Payload versions in a real worker: a job newer than the worker goes back untouched for a
newer worker, one older than ``since`` fails for good, the rest are migrated in order and then
checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import VirtualClock, until

from taskora_cli import JobFailedError, Retry, Taskora
from taskora_cli.config import load_config
from taskora_cli.engine.records import NewJob
from taskora_cli.worker.runner import DEFER_MS

pydantic = pytest.importorskip("pydantic")


class Order(pydantic.BaseModel):
    item: str
    qty: int
    note: str = ""


def new_app(url: str, tmp: Path, clock: VirtualClock | None = None) -> Taskora:
    config = load_config(env={}, cwd=tmp)
    return Taskora(url, config=config, clock=clock) if clock else Taskora(url, config=config)


async def enqueue(app: Taskora, task: str, job_id: str, data: Any, version: int) -> None:
    """A job as a producer at ``version`` stamps it."""
    engine = await app.runtime.engine()
    extra = json.dumps({"v": version}) if version != 1 else ""
    job = NewJob(job_id, json.dumps(data), extra=extra)
    assert await engine.enqueue(task, job, app.runtime.clock())


async def test_a_too_new_job_waits_untouched_for_a_newer_worker(
    redis_url: str, tmp_path: Path, clock: VirtualClock
) -> None:
    old, new = new_app(redis_url, tmp_path), new_app(redis_url, tmp_path, clock)
    ran: list[tuple[str, object]] = []
    try:

        @old.task("ship")
        def ship_v1(data: dict[str, Any]) -> str:
            ran.append(("v1", data))
            return "v1"

        @new.task("ship", version=2)
        def ship_v2(data: dict[str, Any]) -> str:
            ran.append(("v2", data))
            return "v2"

        await enqueue(old, "ship", "later", {"n": 2}, version=2)
        engine = await old.runtime.engine()
        worker = await old.start()
        try:

            async def deferred() -> bool:
                record = await engine.job("ship", "later")
                return record is not None and record.state == "delayed"

            await until(deferred)
        finally:
            await worker.stop()
        record = await engine.job("ship", "later")
        assert record is not None and record.attempt == 0 and record.stalls == 0
        assert not ran

        clock.offset_ms = DEFER_MS + 1000  # the hand-back delay is over for this worker
        worker = await new.start()
        try:
            assert await new.handle("ship", "later").aresult(10) == "v2"
        finally:
            await worker.stop()
        assert ran == [("v2", {"n": 2})]
    finally:
        await old.aclose()
        await new.aclose()


async def test_migrations_run_in_order_then_the_schema_and_old_ones_fail(
    redis_url: str, tmp_path: Path
) -> None:
    app = new_app(redis_url, tmp_path)
    seen: list[Order] = []

    def v2(data: dict[str, Any]) -> dict[str, Any]:
        return {"item": data["sku"], "count": data.get("n", 1)}

    def v3(data: dict[str, Any]) -> dict[str, Any]:
        return {"item": data["item"], "qty": data.pop("count")}

    try:

        @app.task("order", version=4, since=2, migrate={3: v2, 4: v3})
        def order(data: Order) -> str:
            seen.append(data)
            return f"{data.item}x{data.qty}"

        # migrate={3: v2, 4: v3} keys are the versions produced: v2 -> 3 -> 4
        await enqueue(app, "order", "at2", {"sku": "a", "n": 2}, version=2)
        await enqueue(app, "order", "at3", {"item": "b", "count": 3}, version=3)
        await enqueue(app, "order", "at4", {"item": "c", "qty": 4}, version=4)
        await enqueue(app, "order", "at1", {"sku": "z"}, version=1)
        worker = await app.start()
        try:
            results = [await app.handle("order", j).aresult(10) for j in ("at2", "at3", "at4")]
            with pytest.raises(JobFailedError) as info:
                await app.handle("order", "at1").aresult(10)
        finally:
            await worker.stop()
        assert results == ["ax2", "bx3", "cx4"]
        assert all(o.note == "" for o in seen)  # defaults applied after the migrations
        assert info.value.remote_type == "JobVersionError"
        record = await (await app.runtime.engine()).job("order", "at1")
        assert record is not None and record.state == "failed" and record.attempt == 1
    finally:
        await app.aclose()


async def test_a_failing_migration_fails_the_job_for_good(redis_url: str, tmp_path: Path) -> None:
    app = new_app(redis_url, tmp_path)
    try:

        def broken(data: Any) -> Any:
            raise KeyError("sku")

        @app.task("fragile", version=2, migrate={2: broken}, retry=Retry(attempts=5, delay=0))
        def fragile(data: Any) -> None:
            raise AssertionError("never runs")

        await enqueue(app, "fragile", "f", {}, version=1)
        worker = await app.start()
        try:
            with pytest.raises(JobFailedError, match="sku"):
                await app.handle("fragile", "f").aresult(10)
        finally:
            await worker.stop()
        record = await (await app.runtime.engine()).job("fragile", "f")
        assert record is not None and record.state == "failed" and record.attempt == 1
    finally:
        await app.aclose()
