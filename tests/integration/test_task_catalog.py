"""``Inspector.contracts`` and ``Inspector.migrations`` on a real server: published contracts
with the live workers serving them, a bad document skipped and noted, jobs counted per payload
version, and whether ``since`` can be raised; plus a stored validation error's issues."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from servers import raw_client
from support import make_app

from taskora_cli.contract import define_task
from taskora_cli.engine.keys import contracts_key
from taskora_cli.engine.records import Failure, NewJob
from taskora_cli.errors import Issue, UnknownTaskError

SCHEMA = {"type": "object", "properties": {"to": {"type": "string"}}, "required": ["to"]}
NOW = 1_700_000_000_000


def published(name: str, version: int = 1, since: int = 1) -> str:
    contract = define_task(name, queue="mail", version=version, since=since, singleton=True)
    return contract.document(input_schema=SCHEMA, published_at_ms=NOW).to_json()


async def test_contracts_list_published_tasks_their_workers_and_skip_a_bad_document(
    redis_url: str, tmp_path: Path
) -> None:
    app = make_app(redis_url, tmp_path)

    @app.task("local-only", queue="here")
    def local_only(data: object) -> None: ...

    try:
        engine = await app.connect()
        await engine.publish_contracts({"send-email": published("send-email")})
        await engine.register_tasks({"by-name": "default"})
        newer = '{"name": "broken", "format": 99}'
        raw_client(redis_url).hset(contracts_key(""), "broken", newer)
        worker = await app.start(["local-only"])  # a live worker, serving local-only only
        try:
            contracts = await app.inspect().acontracts()
        finally:
            await worker.stop()
        sent = contracts.get("send-email")
        assert sent is not None and sent.document.input_schema == SCHEMA
        assert (sent.document.queue, sent.workers) == ("mail", ())
        assert "newer taskora" in contracts.unreadable["broken"]
        assert contracts.unpublished == {"by-name": "default"}
        served = contracts.get("local-only")  # the worker published it at start
        assert served is not None and served.document.queue == "here"
        assert served.workers == (worker.id,)
        assert contracts.names() == ["broken", "by-name", "local-only", "send-email"]
        unreadable = await app.inspect().amigrations("broken")  # its version unknown here
        assert (unreadable.source, unreadable.version) == ("default", 1)
    finally:
        await app.aclose()


async def test_migrations_count_jobs_per_version_and_say_how_far_since_can_go(
    redis_url: str, tmp_path: Path
) -> None:
    app = make_app(redis_url, tmp_path)
    try:
        engine = await app.connect()
        await engine.publish_contracts({"resize": published("resize", version=3, since=1)})
        await engine.enqueue("resize", NewJob("a", "{}", extra=json.dumps({"v": "2"})), NOW)
        await engine.enqueue("resize", NewJob("b", "{}", extra=json.dumps({"v": "3"})), NOW)
        later = NewJob("c", "{}", run_at_ms=NOW + 60_000, extra=json.dumps({"v": "2"}))
        await engine.enqueue("resize", later, NOW)
        seen = await app.inspect().amigrations("resize")
        assert (seen.version, seen.since, seen.source) == (3, 1, "published")
        assert (seen.waiting, seen.delayed, seen.active) == ({2: 1, 3: 1}, {2: 1}, {})
        assert (seen.raisable_to, seen.can_raise) == (2, True)
        assert seen.as_dict()["total"] == {"2": 2, "3": 1}
        with pytest.raises(UnknownTaskError, match="resize"):
            await app.inspect().amigrations("nope")
    finally:
        await app.aclose()


async def test_a_stored_validation_error_reads_back_with_its_issues(
    redis_url: str, tmp_path: Path
) -> None:
    app = make_app(redis_url, tmp_path)
    try:
        engine = await app.connect()
        await engine.register_tasks({"send": "default"})
        await engine.enqueue("send", NewJob("j1", "{}"), NOW)
        (job,) = await engine.claim("send", "w", 1, NOW, 30_000)
        error = {
            "type": "ValidationError",
            "message": "data for task 'send' is invalid: to: field required",
            "traceback": None,
            "issues": [{"path": "to", "message": "field required"}, "not an issue"],
        }
        failure = Failure(job.id, job.token, json.dumps(error), None)
        assert (await engine.fail_and_claim("send", failure, "w", 0, NOW, 30_000))[0] == 2
        info = await app.inspect().afind("j1", "send")
        assert info is not None and info.error is not None
        assert info.error.issues == (Issue("to", "field required"),)
        assert info.as_dict()["error"]["issues"] == [{"path": "to", "message": "field required"}]
        (letter,) = await app.dead_letters().alist("send")
        assert letter.to_dict()["error"]["issues"] == [{"path": "to", "message": "field required"}]
    finally:
        await app.aclose()
