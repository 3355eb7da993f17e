"""Contracts end to end: ``app.register`` in a producer without the handler, ``app.implement``
in the worker, the contract a worker publishes, and a process that knows a task only by name
dispatching it with the published options and schema (two processes)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from servers import raw_async_client
from support import make_app, until

from taskora_cli import (
    JobContext,
    TaskContract,
    Taskora,
    UsageError,
    ValidationError,
    define_task,
)
from taskora_cli.contract_document import ContractDocument
from taskora_cli.engine.keys import TaskKeys
from taskora_cli.engine.records import DATA_FIELD, NewJob
from taskora_cli.worker.pool import Worker
from taskora_cli.worker.scheduler import fire_due

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Email:
    to: str
    subject: str = "hello"


SEND_EMAIL = define_task("send-email", input=Email, queue="mail", ttl="1h", version=2)


@pytest.fixture
async def app(redis_url: str, tmp_path: Path) -> AsyncIterator[Taskora]:
    made = make_app(redis_url, tmp_path)
    yield made
    await made.aclose()


async def job_fields(url: str, task: str, job_id: str) -> dict[str, str]:
    client = raw_async_client(url, decode_responses=True)
    try:
        found: dict[str, str] = await client.hgetall(TaskKeys("", task).job(job_id))
        return found
    finally:
        await client.aclose()


async def test_register_dispatches_with_the_contract_and_implement_upgrades_it(
    app: Taskora, redis_url: str
) -> None:
    producer_side = app.register(SEND_EMAIL)
    assert app.register(SEND_EMAIL) is producer_side and not producer_side.implemented
    with pytest.raises(ValidationError) as caught:
        await producer_side.adispatch({"subject": 1})
    assert {issue.path for issue in caught.value.issues} == {"to", "subject"}
    with pytest.raises(UsageError, match="no tasks to work on"):
        app.worker()  # registered-only: run elsewhere
    queued = await producer_side.adispatch(Email("a@b"))
    fields = await job_fields(redis_url, "send-email", queued.id)
    assert json.loads(fields[DATA_FIELD]) == {"to": "a@b", "subject": "hello"}
    assert fields["v"] == "2" and int(fields["exp"]) > 0

    async def send(data: Any, ctx: JobContext) -> str:
        return "sent"

    implemented = app.implement(SEND_EMAIL, send, concurrency=2)
    assert implemented is producer_side and producer_side.implemented
    assert producer_side.options.concurrency == 2
    with pytest.raises(UsageError, match="already implemented"):
        app.implement(SEND_EMAIL, send)
    worker = await app.start()
    try:
        assert await queued.aresult(10) == "sent"
    finally:
        await worker.stop()


async def test_no_worker_serves_a_task_only_registered_in_its_process(app: Taskora) -> None:
    app.register(SEND_EMAIL)  # dispatched from here, run by the worker that implements it

    @app.task("local")
    async def local(data: Any) -> None: ...

    assert app.registry.to_run() == [local]
    with pytest.raises(UsageError, match="registered without a handler here"):
        app.registry.to_run(["send-email"])
    with pytest.raises(UsageError, match="registered without a handler here"):
        Worker(app, [app.tasks["send-email"]])


async def test_a_scheduled_fire_of_a_task_known_only_by_its_contract_gets_its_options(
    app: Taskora, redis_url: str, tmp_path: Path
) -> None:
    worker_side = make_app(redis_url, tmp_path / "worker")
    versioned = define_task("digest", singleton=True, version=3, since=2)

    async def digest(data: Any, ctx: JobContext) -> None: ...

    worker_side.implement(versioned, digest)
    running = await worker_side.start()  # publishes the contract
    await running.stop()
    await worker_side.aclose()
    engine = await app.connect()  # the scheduler's app has no digest code
    await engine.enqueue("digest", NewJob("seed", "{}"), 0)  # makes the name known, too
    now = 1_800_000_000_000
    app.schedule("nightly", task="digest", every="1m", data={"n": 1})
    await app.schedules().aregister()
    assert await fire_due(engine, "nightly", now + 60_000, 60_000, registry=app.registry) == 1
    fired = await app.inspect().ajobs("digest", "waiting", 0, 10)
    fire = next(job for job in fired if job.id.startswith("nightly@"))
    fields = await job_fields(redis_url, "digest", fire.id)
    assert fields["v"] == "3" and "conc" in fields, fields  # stamped, under the singleton


async def test_a_decorated_handler_after_register_upgrades_the_same_task(app: Taskora) -> None:
    registered = app.register(define_task("plain"))

    @app.task("plain")
    async def plain(data: Any) -> str:
        return "ran"

    assert plain is registered and registered.implemented and app.tasks["plain"] is plain


async def test_the_worker_publishes_its_contracts_and_keeps_a_newer_one(
    app: Taskora, caplog: pytest.LogCaptureFixture
) -> None:
    newer = define_task("newer", version=3, migrate={3: lambda data: data})
    engine = await app.connect()
    await engine.publish_contracts({"newer": newer.document().to_json()})
    app.implement(SEND_EMAIL, lambda data: None, singleton=True)
    app.implement(define_task("newer", version=2), lambda data: None)
    with caplog.at_level(logging.WARNING, logger="taskora"):
        worker = await app.start()
    await worker.stop()
    published = ContractDocument.from_json(await engine.contract("send-email") or "")
    assert (published.queue, published.version, published.since) == ("mail", 2, 1)
    assert published.options["singleton"] is True  # implement's override is what runs
    assert published.input_schema is not None
    assert published.input_schema["required"] == ["to"]
    kept = ContractDocument.from_json(await engine.contract("newer") or "")
    assert kept.version == 3
    assert any(
        "'newer'" in r.getMessage() and "version 3" in r.getMessage() for r in caplog.records
    )


# The worker process: it has the contract and the handler; the test process has neither.
WORKER = """
import asyncio, sys
from dataclasses import dataclass
from pathlib import Path
from taskora_cli import Taskora, define_task
from taskora_cli.config import load_config

@dataclass
class Order:
    sku: str
    qty: int = 1

app = Taskora(sys.argv[1], config=load_config(env={}, cwd=Path(sys.argv[2])))
contract = define_task("ship", input=Order, queue="orders", singleton=True, ttl="1h", version=2)
running = []

async def ship(data, ctx):
    running.append(ctx.id)
    peak = len(running)
    await asyncio.sleep(0.05)  # long enough for a second job to start, were it allowed to
    running.remove(ctx.id)
    return peak

app.implement(contract, ship, concurrency=4)

async def main():
    await app.start()
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_a_process_without_the_code_dispatches_by_name_with_the_published_contract(
    app: Taskora,
    redis_url: str,
    tmp_path: Path,
    spawn: list[subprocess.Popen[bytes]],
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, redis_url, str(tmp_path)], env=env, stderr=subprocess.PIPE
    )
    spawn.append(worker)
    engine = await app.connect()
    await until(lambda: _published(engine, "ship", worker), timeout=30)
    assert app.tasks == {}  # nothing imported here: by name only

    with pytest.raises(ValidationError) as caught:
        await app.adispatch("ship", {"qty": "two"})
    assert {(i.path, i.message != "") for i in caught.value.issues} == {
        ("sku", True),
        ("qty", True),
    }
    assert await engine.counts("ship") == {k: 0 for k in await engine.counts("ship")}

    later = await app.adispatch("ship", {"sku": "later"}, delay="30m")  # stays put to look at
    fields = await job_fields(redis_url, "ship", later.id)
    assert fields["v"] == "2" and int(fields["exp"]) > 0  # version stamp and TTL applied
    assert fields["conc"] == TaskKeys("", "ship").singleton  # singleton applied
    await later.acancel()
    handles = [await app.adispatch("ship", {"sku": f"s{n}"}) for n in range(3)]
    assert [await h.aresult(20) for h in handles] == [1, 1, 1]  # never two active at once


async def _published(engine: Any, name: str, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        _, err = process.communicate()
        raise AssertionError(f"the worker process exited early: {err.decode()[-2000:]}")
    return await engine.contract(name) is not None


def test_contract_exports() -> None:
    assert isinstance(SEND_EMAIL, TaskContract)
    assert (SEND_EMAIL.version, SEND_EMAIL.since, SEND_EMAIL.migrations) == (2, 1, ())
