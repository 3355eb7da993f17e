"""Binary (msgpack) job data and results through the real engine: the wire, the redis-py
connections and the Lua scripts carry them byte for byte (no app: the engine is driven as the
worker drives it)."""

from __future__ import annotations

import datetime as dt

import pytest
from servers import raw_client

from taskora_cli.engine.engine import Engine
from taskora_cli.engine.records import Ack, NewJob
from taskora_cli.serialization import Msgpack, Payloads, bytes_from_text, decode_payload

pytest.importorskip("msgspec")

NOW = 1_700_000_000_000
# every byte value, a datetime and text that is not ASCII: msgpack bytes far from UTF-8
DATA = {
    "user": 42,
    "blob": bytes(range(256)),
    "at": dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
    "name": "Zoë",
}


@pytest.mark.parametrize("lean_wire", [True, False], ids=["wire", "redis-py"])
async def test_msgpack_data_and_results_round_trip(redis_url: str, lean_wire: bool) -> None:
    payloads = Payloads(Msgpack())
    data, result = payloads.dumps(DATA), payloads.dumps([DATA, None, 1.5])
    engine = Engine(redis_url)
    if not lean_wire:
        engine.runner.wire = None  # what rediss:// URLs use
    try:
        await engine.connect(NOW)
        assert await engine.enqueue("t", NewJob("a", data), NOW)
        assert await engine.enqueue("t", NewJob("a", data), NOW)  # sent again: its own job
        later = NewJob("b", data, run_at_ms=NOW + 10)
        assert await engine.enqueue_bulk("t", [later, NewJob("c", '{"old":1}')], NOW) == [True] * 2
        claimed = await engine.claim("t", "w", 3, NOW + 10, 30_000, request="r1")
        assert {job.id: payloads.loads(job.data) for job in claimed} == {
            "a": DATA,
            "b": DATA,
            "c": {"old": 1},
        }
        again = await engine.claim("t", "w", 3, NOW + 10, 30_000, request="r1")  # replayed
        assert sorted(job.data for job in again) == sorted(job.data for job in claimed)
        acks = [Ack(job.id, job.token, result) for job in claimed]
        acked, _ = await engine.ack_and_claim("t", acks, "w", 1, NOW + 20, 30_000)
        assert acked == [True] * 3
        record = await engine.job("t", "a")
        assert record is not None and record.data == data and record.result == result
        assert decode_payload(record.result) == [DATA, None, 1.5]
        # the server holds the msgpack bytes themselves, not an escaped or base64 form
        raw = raw_client(redis_url).hget(engine.keys("t").job("a"), "result")
        assert raw == bytes_from_text(result) and raw.startswith(b"~msgpack:\x93")
    finally:
        await engine.close()
