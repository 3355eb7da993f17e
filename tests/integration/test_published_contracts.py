"""Published contracts on a real server: publish, read back, and the rule that an older
worker (a lower contract version) never rolls back a newer one's document."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from taskora_cli.contract import define_task
from taskora_cli.contract_document import ContractDocument
from taskora_cli.engine.engine import Engine
from taskora_cli.json_schema import json_schema_issues

SCHEMA = {"properties": {"to": {"type": "string"}}, "required": ["to"], "type": "object"}


@pytest.fixture
async def engine(redis_url: str) -> AsyncIterator[Engine]:
    engine = Engine(redis_url, "pub")
    await engine.connect(1)
    try:
        yield engine
    finally:
        await engine.close()


def document(version: int, queue: str = "mail") -> str:
    contract = define_task("send-email", queue=queue, version=version, singleton=True)
    return contract.document(input_schema=SCHEMA, published_at_ms=version).to_json()


async def test_published_contracts_read_back_and_apply_by_name(engine: Engine) -> None:
    assert await engine.contracts() == {}
    assert await engine.contract("send-email") is None
    assert await engine.publish_contracts({"send-email": document(1), "other": document(1)}) == {}
    assert await engine.publish_contracts({"send-email": document(1)}) == {}  # idempotent
    stored = await engine.contracts()
    assert sorted(stored) == ["other", "send-email"]
    published = ContractDocument.from_json(stored["send-email"])
    assert (published.queue, published.version) == ("mail", 1)
    assert published.task_options().singleton
    assert published.input_schema is not None
    assert json_schema_issues({"to": 3}, published.input_schema)[0].path == "to"
    assert await engine.contract("send-email") == stored["send-email"]


async def test_an_older_version_never_replaces_a_newer_one(engine: Engine) -> None:
    await engine.publish_contracts({"send-email": document(2, queue="v2")})
    kept = await engine.publish_contracts(
        {"send-email": document(1, queue="v1"), "fresh": document(1)}
    )
    assert kept == {"send-email": 2}
    stored = await engine.contracts()
    assert ContractDocument.from_json(stored["send-email"]).queue == "v2"
    assert "fresh" in stored  # the rest of the batch was published

    # the same version replaces (a redeploy with new options), a newer one too
    await engine.publish_contracts({"send-email": document(2, queue="v2b")})
    assert ContractDocument.from_json((await engine.contracts())["send-email"]).queue == "v2b"
    assert await engine.publish_contracts({"send-email": document(3, queue="v3")}) == {}
    assert ContractDocument.from_json((await engine.contracts())["send-email"]).version == 3


async def test_a_document_the_server_cannot_read_is_replaced(
    engine: Engine, redis_url: str
) -> None:
    await engine.publish_contracts({"send-email": "not json"})
    assert await engine.publish_contracts({"send-email": document(1)}) == {}
    assert ContractDocument.from_json((await engine.contracts())["send-email"]).version == 1
    other = Engine(redis_url, "elsewhere")  # prefixes do not share contracts
    try:
        assert await other.contracts() == {}
    finally:
        await other.close()
