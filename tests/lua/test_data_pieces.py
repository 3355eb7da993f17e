"""A job's payload is stored in pieces of at most 63 bytes (fields "1".."16"), so a waiting
job's hash stays a listpack on a default-configured server; every reader gets the whole payload
back, and
the two splitters (records.data_fields for the plain and bulk enqueue scripts, data_args in
lua/lib/data.lua for the others) store a payload alike."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from harness import NOW, Lua
from harness import T as t

from taskora_cli.engine.records import DATA_FIELD, DATA_MORE_FIELDS, JobRecord, data_fields

PAYLOADS = [
    "",
    "{}",
    "x" * 63,
    "x" * 64,
    "x" * 126,
    "x" * 127,
    '{"i":1234,"pad":"' + "x" * 80 + '"}',
    "x" * 16 * 63,  # the most that is still split
    "x" * (16 * 63 + 1),  # kept whole
    "é" * 100,  # two bytes a character: pieces end between characters
    "a€" * 40,  # three bytes a character, at every offset
    "😀" * 20,
    "😀" * 252,  # 1,008 bytes, in pieces of 60: one too many, so kept whole
]


def enqueue(lua: Lua, job_id: str, data: str) -> Any:
    first, more = data_fields(data)
    args = [job_id, first, NOW, 0, 0, "", *more]
    return lua.run("enqueue", [t.wait, t.prioritized, t.events, t.marker], args)


def stored_pieces(lua: Lua, job_id: str) -> dict[str, str]:
    raw = lua.r.hgetall(t.job(job_id))  # decoded piece by piece
    return {name: raw[name] for name in (DATA_FIELD, *DATA_MORE_FIELDS) if name in raw}


@pytest.mark.parametrize("data", PAYLOADS, ids=lambda d: f"{len(d.encode())}B")
def test_a_payload_reads_back_whole_from_the_hash_and_from_a_claim(lua: Lua, data: str) -> None:
    assert enqueue(lua, "a", data) == 1
    raw = lua.r.hgetall(t.job("a"))
    assert JobRecord.from_hash(t.name, "a", raw).data == data
    pieces = list(stored_pieces(lua, "a").values())
    if len(pieces) > 1:
        assert max(len(piece.encode()) for piece in pieces) <= 63
    claimed = lua.run(
        "claim",
        [t.wait, t.prioritized, t.delayed, t.active, t.events, t.marker, t.expired],
        [NOW, 30_000, "w1", 1, 100],
    )
    assert claimed[3] == data


@pytest.mark.parametrize("data", PAYLOADS, ids=lambda d: f"{len(d.encode())}B")
def test_python_and_lua_split_a_payload_alike(lua: Lua, data: str) -> None:
    enqueue(lua, "py", data)
    keys = [t.wait, t.prioritized, t.delayed, t.events, t.marker, t.dedup("k")]
    args = ["lua", data, NOW, 0, 0, 0, "", "waiting"]  # a flow-control enqueue splits in Lua
    assert lua.run("enqueue_deduplicated", keys, args)[0] == 1
    assert stored_pieces(lua, "py") == stored_pieces(lua, "lua")


def test_a_payload_sent_again_in_the_same_bulk_call_counts_as_enqueued(lua: Lua) -> None:
    data = "é" * 100
    keys = [t.wait, t.prioritized, t.delayed, t.events, t.marker]

    def bulk_args(payload: str) -> list[object]:
        first, more = data_fields(payload)  # the client splits, as steps.enqueue_bulk does
        return [NOW, "a", first, 0, 0, 0, "", len(more), *more]

    assert lua.run("enqueue_bulk", keys, bulk_args(data)) == [1]
    assert len(stored_pieces(lua, "a")) > 1
    assert lua.run("enqueue_bulk", keys, bulk_args(data)) == [1]  # the rerun of a dropped reply
    assert lua.run("enqueue_bulk", keys, bulk_args(data + "!")) == [0]


@pytest.fixture
def default_listpack_limit(lua: Lua) -> Iterator[None]:
    """The session server with Redis's default hash-max-listpack-value (64), for one test."""
    before = lua.r.config_get("hash-max-listpack-value")["hash-max-listpack-value"]
    lua.r.config_set("hash-max-listpack-value", 64)
    try:
        yield
    finally:
        lua.r.config_set("hash-max-listpack-value", before)


@pytest.mark.usefixtures("default_listpack_limit")
def test_a_waiting_job_with_a_100_byte_payload_stays_a_listpack(lua: Lua) -> None:
    enqueue(lua, "a", '{"i":1234,"pad":"' + "x" * 80 + '"}')
    assert lua.r.object("encoding", t.job("a")) == "listpack"
