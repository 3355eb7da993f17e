"""Typed tasks in a real worker: input checked (and defaulted) before the handler, which gets
the model; output checked before it is stored; a bad payload fails for good, with its issues,
straight to the dead letters; results in the app's serializer."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TypedDict

import pytest
from support import make_app

from taskora_cli import JobFailedError, Retry, Taskora
from taskora_cli.config import load_config
from taskora_cli.engine.records import NewJob

pydantic = pytest.importorskip("pydantic")
msgspec = pytest.importorskip("msgspec")


class Email(pydantic.BaseModel):
    to: str
    subject: str = "hello"
    copies: int = 1


class Receipt(pydantic.BaseModel):
    id: str
    sent: int


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


class Pair(msgspec.Struct):
    a: int
    b: str = "b"


class Named(TypedDict):
    name: str


def positive(value: object) -> int:
    if not isinstance(value, int) or value <= 0:
        raise ValueError("must be a positive int")
    return value


@pytest.fixture
async def app(redis_url: str, tmp_path: Path) -> Taskora:
    made = Taskora(redis_url, config=load_config(env={}, cwd=tmp_path), validate_on_dispatch=False)
    yield made
    await made.aclose()


async def _enqueue_raw(app: Taskora, task: str, job_id: str, data: str) -> None:
    """A job as an old producer (or one that skipped validation) wrote it."""
    engine = await app.runtime.engine()
    assert await engine.enqueue(task, NewJob(job_id, data), app.runtime.clock())


async def test_the_handler_gets_the_model_and_old_jobs_get_defaults(app: Taskora) -> None:
    seen: list[object] = []

    @app.task("send")
    async def send(data: Email) -> Receipt:
        seen.append(data)
        return Receipt(id=data.to, sent=data.copies)

    await _enqueue_raw(app, "send", "old", '{"to": "a@x"}')  # no subject, no copies
    handle = await send.adispatch({"to": "b@x", "copies": 3})
    worker = await app.start()
    try:
        assert await app.handle("send", "old").aresult(10) == {"id": "a@x", "sent": 1}
        assert await handle.aresult(10) == {"id": "b@x", "sent": 3}
    finally:
        await worker.stop()
    assert all(isinstance(email, Email) for email in seen)
    assert {email.subject for email in seen} == {"hello"}  # the default filled in


async def test_bad_data_fails_at_once_with_its_issues_despite_a_retry_policy(
    app: Taskora,
) -> None:
    ran: list[object] = []

    @app.task("strict", retry=Retry(attempts=5, delay=0))
    def strict(data: Email) -> None:
        ran.append(data)

    handle = await strict.adispatch({"subject": 3})
    worker = await app.start()
    try:
        with pytest.raises(JobFailedError) as info:
            await handle.aresult(10)
    finally:
        await worker.stop()
    assert not ran
    assert info.value.remote_type == "ValidationError"
    engine = await app.runtime.engine()
    record = await engine.job("strict", handle.id)
    assert record is not None and record.state == "failed" and record.attempt == 1
    assert record.error is not None
    error = json.loads(record.error)
    assert {issue["path"] for issue in error["issues"]} == {"to", "subject"}
    assert all(issue["message"] for issue in error["issues"])


async def test_a_result_off_its_output_schema_fails_with_issues(app: Taskora) -> None:
    @app.task("reply", output=Receipt, retry=Retry(attempts=3, delay=0))
    def reply(data: dict[str, object]) -> object:
        return {"id": 7}  # no "sent", and id is not a str

    handle = await reply.adispatch({})
    worker = await app.start()
    try:
        with pytest.raises(JobFailedError) as info:
            await handle.aresult(10)
    finally:
        await worker.stop()
    assert info.value.remote_type == "ValidationError"
    record = await (await app.runtime.engine()).job("reply", handle.id)
    assert record is not None and record.attempt == 1 and record.error is not None
    assert {i["path"] for i in json.loads(record.error)["issues"]} == {"id", "sent"}


async def test_every_schema_kind_checks_in_the_worker(app: Taskora) -> None:
    got: dict[str, object] = {}

    @app.task("point")
    def point(data: Point) -> None:
        got["point"] = data

    @app.task("pair")
    def pair(data: Pair) -> None:
        got["pair"] = data

    @app.task("named")
    def named(data: Named) -> None:
        got["named"] = data

    @app.task("number", input=positive)
    def number(data: int) -> int:
        return data * 2

    good = [
        await point.adispatch({"x": 1}),
        await pair.adispatch({"a": 2}),
        await named.adispatch({"name": "n"}),
        await number.adispatch(21),
    ]
    bad = await number.adispatch(-1)
    worker = await app.start()
    try:
        results = [await h.aresult(10) for h in good]
        with pytest.raises(JobFailedError) as info:
            await bad.aresult(10)
    finally:
        await worker.stop()
    assert results == [None, None, None, 42]
    assert got == {"point": Point(1, 0), "pair": Pair(2, "b"), "named": {"name": "n"}}
    assert info.value.remote_type == "ValidationError"


async def test_a_model_returned_without_an_output_schema_is_stored_as_json(
    app: Taskora,
) -> None:
    @app.task("untyped")
    def untyped(data):  # type: ignore[no-untyped-def]  # no annotations: the plain path
        return {"receipt": Receipt(id="r", sent=data)}

    handle = await untyped.adispatch(2)
    worker = await app.start()
    try:
        assert await handle.aresult(10) == {"receipt": {"id": "r", "sent": 2}}
    finally:
        await worker.stop()


async def test_a_msgpack_app_runs_jobs_and_reads_results_back(
    redis_url: str, tmp_path: Path
) -> None:
    app = Taskora(redis_url, config=load_config(env={}, cwd=tmp_path), serializer="msgpack")
    try:

        @app.task("pack")
        def pack(data: dict[str, object]) -> dict[str, object]:
            return {"got": data, "raw": b"\x00\xff"}

        handle = await pack.adispatch({"n": 1})
        worker = await app.start()
        try:
            assert await handle.aresult(10) == {"got": {"n": 1}, "raw": b"\x00\xff"}
        finally:
            await worker.stop()
        record = await (await app.runtime.engine()).job("pack", handle.id)
        assert record is not None and record.result is not None
        assert record.result.startswith("~msgpack:")
    finally:
        await app.aclose()


async def test_a_plain_app_still_runs_jobs_another_serializer_wrote(
    redis_url: str, tmp_path: Path
) -> None:
    app = make_app(redis_url, tmp_path)
    try:

        @app.task("mixed")
        def mixed(data: object) -> object:
            return data

        from taskora_cli.serialization import Msgpack, Payloads

        await _enqueue_raw(app, "mixed", "m", Payloads(Msgpack()).dumps({"k": [1, 2]}))
        worker = await app.start()
        try:
            assert await app.handle("mixed", "m").aresult(10) == {"k": [1, 2]}
        finally:
            await worker.stop()
    finally:
        await app.aclose()
