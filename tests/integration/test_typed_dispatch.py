"""Dispatch of typed tasks on a real server: data checked against the input schema before
anything is enqueued, a model instance enqueued as plain data, the payload version and the
trace context stamped on the job, and the app's serializer used for the payload."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import pytest
from servers import raw_async_client

from taskora_cli import ConfigError, Issue, Taskora, UsageError, ValidationError
from taskora_cli.config import load_config
from taskora_cli.engine.keys import TaskKeys
from taskora_cli.engine.records import DATA_FIELD, JobRecord
from taskora_cli.handle import outcome
from taskora_cli.serialization import Msgpack, Payloads


@dataclass
class Email:
    to: str
    subject: str = "hello"


class Invoice(pydantic.BaseModel):
    number: int
    total: float = 0.0


def make(url: str, tmp: Path, **options: Any) -> Taskora:
    return Taskora(url, config=load_config(env={}, cwd=tmp), **options)


@pytest.fixture
async def app(redis_url: str, tmp_path: Path) -> AsyncIterator[Taskora]:
    made = make(redis_url, tmp_path)
    yield made
    await made.aclose()


async def stored(url: str, task: str, job_id: str) -> dict[str, str]:
    client = raw_async_client(url, decode_responses=True, encoding_errors="surrogateescape")
    try:
        found: dict[str, str] = await client.hgetall(TaskKeys("", task).job(job_id))
        return found
    finally:
        await client.aclose()


async def waiting(app: Taskora, task: str) -> int:
    return (await (await app.connect()).counts(task))["waiting"]


async def test_bad_data_lists_every_issue_and_enqueues_nothing(app: Taskora) -> None:
    @app.task("send-email")
    async def send(data: Email) -> None: ...

    with pytest.raises(ValidationError) as caught:
        await send.adispatch({"subject": 3})
    assert caught.value.task == "send-email"
    assert {issue.path for issue in caught.value.issues} == {"to", "subject"}
    with pytest.raises(ValidationError) as many:
        await send.adispatch_many([{"to": "a"}, {"to": 1}, {}])
    assert [issue.path for issue in many.value.issues] == ["1.to", "2.to"]
    assert await waiting(app, "send-email") == 0

    by_name = await app.adispatch("send-email", {"to": 5}, skip_validation=True)
    assert by_name.enqueued and await waiting(app, "send-email") == 1


async def test_validate_on_dispatch_false_leaves_the_check_to_the_worker(
    redis_url: str, tmp_path: Path
) -> None:
    app = make(redis_url, tmp_path, validate_on_dispatch=False)

    @app.task("send-email")
    async def send(data: Email) -> None: ...

    handle = await send.adispatch({"to": 5})
    assert json.loads((await stored(redis_url, "send-email", handle.id))[DATA_FIELD]) == {"to": 5}
    await app.aclose()


async def test_a_model_instance_is_enqueued_as_plain_data_with_its_defaults(
    app: Taskora, redis_url: str
) -> None:
    @app.task("send-email")
    async def send(data: Email) -> None: ...

    @app.task("bill", input=Invoice)
    async def bill(data: Any) -> None: ...

    first = await send.adispatch(Email("a@b"))
    second = await send.adispatch({"to": "c@d"})
    invoice = await bill.adispatch(Invoice(number=7))
    assert json.loads((await stored(redis_url, "send-email", first.id))[DATA_FIELD]) == {
        "to": "a@b",
        "subject": "hello",
    }
    assert json.loads((await stored(redis_url, "send-email", second.id))[DATA_FIELD]) == {
        "to": "c@d",
        "subject": "hello",
    }
    assert json.loads((await stored(redis_url, "bill", invoice.id))[DATA_FIELD]) == {
        "number": 7,
        "total": 0.0,
    }


async def test_a_versioned_task_stamps_its_jobs_and_version_1_writes_nothing(
    app: Taskora, redis_url: str
) -> None:
    @app.task("v3", version=3, since=2, migrate={3: lambda data: data})
    async def v3(data: Any) -> None: ...

    @app.task("v1")
    async def v1(data: Any) -> None: ...

    [stamped] = await v3.adispatch_many([1])
    plain = await v1.adispatch(1)
    assert (await stored(redis_url, "v3", stamped.id))["v"] == "3"
    assert (await stored(redis_url, "v3", (await v3.adispatch(2)).id))["v"] == "3"
    fields = await stored(redis_url, "v1", plain.id)
    assert "v" not in fields and "tc" not in fields  # no span is recording here


async def test_a_dispatch_inside_a_span_carries_its_trace_context(
    app: Taskora, redis_url: str
) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    @app.task("traced")
    async def traced(data: Any) -> None: ...

    with TracerProvider().get_tracer("test").start_as_current_span("dispatching") as span:
        handle = await traced.adispatch(None)
        trace_id = format(span.get_span_context().trace_id, "032x")
    carrier = json.loads((await stored(redis_url, "traced", handle.id))["tc"])
    assert trace_id in carrier["traceparent"]


async def test_collect_needs_json_and_version_1(
    app: Taskora, redis_url: str, tmp_path: Path
) -> None:
    packed = make(redis_url, tmp_path, serializer=Msgpack())
    with pytest.raises(ConfigError, match="JSON serializer"):
        packed.task("batch", collect={"key": "k", "delay": "1s"})(lambda items: None)
    await packed.aclose()
    with pytest.raises(UsageError, match="collects its dispatches"):
        app.task("versioned", version=2, collect={"key": "k", "delay": "1s"})(lambda i: None)


async def test_the_apps_serializer_writes_the_payload_and_reads_the_result(
    redis_url: str, tmp_path: Path
) -> None:
    packed = make(redis_url, tmp_path, serializer=Msgpack())

    @packed.task("packed")
    async def task(data: Any) -> None: ...

    handle = await task.adispatch({"blob": b"\x00\xff"})
    assert (await stored(redis_url, "packed", handle.id))[DATA_FIELD].startswith("~msgpack:")
    result = Payloads(Msgpack()).dumps({"ok": b"\x01"})
    record = JobRecord(handle.id, "packed", "completed", result=result)
    assert outcome("packed", handle.id, record, packed.runtime.payloads) == {"ok": b"\x01"}
    assert outcome("packed", handle.id, record) == {"ok": b"\x01"}  # any reader decodes it
    await packed.aclose()


def test_issues_are_public() -> None:
    error = ValidationError("t", [Issue("a.b", "field required")])
    assert str(error) == "data for task 't' is invalid: a.b: field required"
