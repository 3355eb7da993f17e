"""Whatever the server refuses, in any area of the engine and over either connection (the lean
wire or redis-py), reaches the caller as our ServerError, never a redis-py exception."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis
from servers import raw_client

from taskora_cli.engine import keys as k
from taskora_cli.engine.engine import Engine
from taskora_cli.errors import ServerError

PREFIX = "errs"
NOW = 1_700_000_000_000

Call = Callable[[Engine], Awaitable[Any]]

CALLS: dict[str, Call] = {
    "dead letters, a read": lambda e: e.dead_letters.count("t"),
    "dead letters, a script": lambda e: e.dead_letters.retry("t", ["a"], NOW),
    "schedules, a read": lambda e: e.schedules.names(),
    "schedules, a script": lambda e: e.schedules.tick("me", NOW, 1000, 10),
    "flow, a read": lambda e: e.flow.collect_peek("t", "k"),
    "control, a write": lambda e: e.control.pause_queue("q"),
    "workers, a read": lambda e: e.workers.registered(),
    "events, a read": lambda e: e.events.recent(["t"], 10),
    "jobs, a script": lambda e: e.claim("t", "w", 1, NOW, 1000),
}


def break_every_area(url: str) -> None:
    """Give one key each area reads or writes the wrong type: every call above fails with
    WRONGTYPE (inside a script, as a script error)."""
    t = k.TaskKeys(PREFIX, "t")
    raw = raw_client(url)
    try:
        for key in (t.failed, t.delayed, t.collect_items("k"), t.events):
            raw.set(key, "not what taskora stored")
        for key in (
            k.schedule_names_key(PREFIX),
            k.scheduler_lease_key(PREFIX),
            k.paused_queues_key(PREFIX),
            k.workers_key(PREFIX),
        ):
            raw.set(key, "not what taskora stored")
    finally:
        raw.close()


@pytest.mark.parametrize("lean_wire", [True, False], ids=["wire", "redis-py"])
async def test_a_refused_command_in_any_area_is_a_server_error(
    redis_url: str, lean_wire: bool
) -> None:
    break_every_area(redis_url)
    engine = Engine(redis_url, PREFIX)
    if not lean_wire:
        engine.runner.wire = None  # what rediss:// URLs use
    try:
        for area, call in CALLS.items():
            with pytest.raises(ServerError, match="refused a command") as failed:
                await call(engine)
            assert "WRONGTYPE" in str(failed.value), area
            assert not isinstance(failed.value, redis.RedisError), area
    finally:
        await engine.close()
