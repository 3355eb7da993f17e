"""retry_dead.lua and purge_dead.lua: seeded dead letters, a fixed now_ms, every key checked."""

from __future__ import annotations

import json
from typing import Any

import pytest
from harness import NOW, Lua
from harness import T as t

RETRY_KEYS = [t.wait, t.prioritized, t.failed, t.events, t.marker]
PURGE_KEYS = [t.failed, t.events]
ERR = '{"type":"ValueError","message":"boom","traceback":"Traceback ...\\n"}'
OLD_LOG = '{"ts":1,"level":"info","msg":"working"}'
SPAN = 10**13


def ev(event: str, job: str, **extra: Any) -> dict[str, str]:
    return {"event": event, "job": job, **{k: str(v) for k, v in extra.items()}}


def dead_hash(finished: int, **extra: str) -> dict[str, str]:
    """A job hash as fail_and_claim leaves a dead letter."""
    return {
        "state": "failed",
        "t": str(NOW - 5000),
        "1": "{}",
        "attempt": "3",
        "started": str(finished - 10),
        "finished": str(finished),
        "error": ERR,
        **extra,
    }


def seed_dead(lua: Lua, jobs: dict[str, dict[str, str]]) -> None:
    for job_id, fields in jobs.items():
        lua.r.hset(t.job(job_id), mapping=fields)
        lua.r.zadd(t.failed, {job_id: int(fields["finished"])})
        lua.r.rpush(t.logs(job_id), OLD_LOG)


def retried_log(attempts: int = 3, error: Any = None) -> str:
    error = json.loads(ERR) if error is None else error
    entry = {
        "ts": NOW,
        "level": "warning",
        "msg": "retried from the dead-letter queue",
        "fields": {"attempts": attempts, "error": error},
    }
    return json.dumps(entry, separators=(",", ":"))


def retry(lua: Lua, *ids: str) -> list[int]:
    return list(lua.run("retry_dead", RETRY_KEYS, [NOW, "failed", *ids]))


def purge(lua: Lua, *ids: str) -> list[int]:
    return list(lua.run("purge_dead", PURGE_KEYS, [*ids]))


def test_retry_sends_dead_letters_to_the_back_of_the_line_with_a_fresh_attempt_count(
    lua: Lua,
) -> None:
    seed_dead(lua, {"a": dead_hash(NOW - 300, stalls="1", cancel="")})
    seed_dead(lua, {"b": dead_hash(NOW - 200, exp=str(NOW - 1), run_at=str(NOW - 900))})
    lua.r.lpush(t.wait, "queued")
    assert retry(lua, "a", "b") == [1, 1]
    fresh = {
        "t": str(NOW - 5000),  # still when it was dispatched
        "1": "{}",
        "attempt": "0",
        "run_at": str(NOW),  # when it was due again
    }
    assert lua.snapshot() == {
        t.events: [ev("waiting", "a b", reason="dlq dlq")],
        t.job("a"): fresh,
        t.job("b"): fresh,  # the TTL went too: it was for starting the job, which it did
        t.logs("a"): [OLD_LOG, retried_log()],
        t.logs("b"): [OLD_LOG, retried_log()],
        t.marker: [("0", 0)],
        t.wait: ["b", "a", "queued"],  # claims RPOP: "queued" first, then a, then b
    }


def test_retry_puts_a_prioritized_job_at_the_back_of_its_band(lua: Lua) -> None:
    seed_dead(lua, {"p": dead_hash(NOW - 100, prio="5")})
    lua.r.set(t.seq, str(NOW + 7))
    assert retry(lua, "p") == [1]
    snap = lua.snapshot()
    assert snap[t.prioritized] == [("p", -5 * SPAN + NOW + 8)]
    assert snap[t.seq] == str(NOW + 8)
    assert snap[t.job("p")] == {
        "t": str(NOW - 5000),
        "1": "{}",
        "attempt": "0",
        "prio": "5",
        "run_at": str(NOW),
    }
    assert t.wait not in snap and t.failed not in snap


@pytest.mark.parametrize(
    "state", ["waiting", "active", "completed", "retrying", "cancelled", "expired"]
)
def test_retry_leaves_a_job_that_is_not_dead_alone(lua: Lua, state: str) -> None:
    lua.r.hset(t.job("x"), mapping={"state": state, "1": "{}", "attempt": "1"})
    before = lua.snapshot()
    assert retry(lua, "x") == [0]
    assert lua.snapshot() == before


def test_retry_drops_a_failed_set_member_whose_job_is_gone_and_skips_unknown_ids(
    lua: Lua,
) -> None:
    lua.r.zadd(t.failed, {"ghost": NOW - 1})
    seed_dead(lua, {"a": dead_hash(NOW - 300)})
    assert retry(lua, "ghost", "nobody", "a", "a") == [0, 0, 1, 0]
    snap = lua.snapshot()
    assert t.failed not in snap
    assert snap[t.wait] == ["a"]
    assert snap[t.events] == [ev("waiting", "a", reason="dlq")]


def test_retry_keeps_an_error_that_is_not_json_as_a_string_in_the_log(lua: Lua) -> None:
    seed_dead(lua, {"a": dead_hash(NOW - 300, error="plain words", attempt="1")})
    assert retry(lua, "a") == [1]
    assert lua.r.lrange(t.logs("a"), -1, -1) == [retried_log(1, "plain words")]


def test_retry_of_nothing_dead_emits_nothing_and_leaves_the_marker(lua: Lua) -> None:
    assert retry(lua, "nobody") == [0]
    assert lua.snapshot() == {}


def test_purge_deletes_dead_letters_and_nothing_else(lua: Lua) -> None:
    seed_dead(lua, {"a": dead_hash(NOW - 300), "b": dead_hash(NOW - 200)})
    lua.r.hset(t.job("live"), mapping={"t": str(NOW), "1": "{}"})
    lua.r.lpush(t.wait, "live")
    assert purge(lua, "a", "live", "nobody") == [1, 0, 0]
    assert lua.snapshot() == {
        t.events: [ev("purged", "a")],
        t.failed: [("b", NOW - 200)],
        t.job("b"): dead_hash(NOW - 200),
        t.logs("b"): [OLD_LOG],
        t.job("live"): {"t": str(NOW), "1": "{}"},
        t.wait: ["live"],
    }


def test_purge_of_nothing_dead_emits_nothing(lua: Lua) -> None:
    assert purge(lua, "nobody") == [0]
    assert lua.snapshot() == {}


def test_retry_drops_only_an_id_whose_hash_is_gone_not_a_waiting_job(lua: Lua) -> None:
    lua.r.hset(t.job("w"), mapping={"t": str(NOW), "1": "{}"})  # waiting: no state field
    lua.r.zadd(t.failed, {"w": NOW - 100, "gone": NOW - 50})
    keys = [t.wait, t.prioritized, t.failed, t.events, t.marker]
    assert lua.run("retry_dead", keys, [NOW, "failed", "w", "gone"]) == [0, 0]
    assert lua.r.zrange(t.failed, 0, -1) == ["w"]


def test_retry_sends_a_cancelled_job_back_and_ignores_one_in_another_state(lua: Lua) -> None:
    ended = {"state": "cancelled", "1": "{}", "t": str(NOW - 500), "attempt": "1"}
    lua.r.hset(t.job("c"), mapping={**ended, "finished": str(NOW - 100), "cancel": "no"})
    lua.r.zadd(t.cancelled, {"c": NOW - 100})
    lua.r.hset(t.job("f"), mapping={"state": "failed", "1": "{}"})
    lua.r.zadd(t.failed, {"f": NOW - 100})
    keys = [t.wait, t.prioritized, t.cancelled, t.events, t.marker]
    assert lua.run("retry_dead", keys, [NOW, "cancelled", "c", "f"]) == [1, 0]
    snap = lua.snapshot()
    assert snap[t.wait] == ["c"] and t.cancelled not in snap
    assert snap[t.job("c")] == {"1": "{}", "t": str(NOW - 500),
                                "attempt": "0", "run_at": str(NOW)}  # fmt: skip
    assert snap[t.failed] == [("f", NOW - 100)]
    assert json.loads(snap[t.logs("c")][0])["msg"] == "retried after it was cancelled"
    assert snap[t.events] == [{"event": "waiting", "job": "c", "reason": "retried"}]
