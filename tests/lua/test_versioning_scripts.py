"""Payload versions on the wire: a claim returns each job's version, and defer.lua hands a job
too new for its worker back as delayed, counting nothing against it."""

from __future__ import annotations

from typing import Any

from harness import NOW, Lua
from harness import T as t

CLAIM_KEYS = [t.wait, t.prioritized, t.delayed, t.active, t.events, t.marker, t.expired]
DEFER_KEYS = [t.wait, t.prioritized, t.delayed, t.active, t.events, t.marker, t.cancelled]


def enqueue(lua: Lua, job_id: str, extra: str = "") -> None:
    keys = [t.wait, t.prioritized, t.events, t.marker]
    lua.run("enqueue", keys, [job_id, "{}", NOW, 0, 0, extra])


def claim(lua: Lua, count: int, now: int = NOW, request: str = "") -> list[Any]:
    keys = [*CLAIM_KEYS, t.lastclaim("w1")]
    return list(lua.run("claim", keys, [now, 30_000, "w1", count, 100, request]))


def test_a_claim_returns_each_jobs_version_one_when_unstamped(lua: Lua) -> None:
    enqueue(lua, "old")
    enqueue(lua, "new", '{"v":3}')
    assert "v" not in lua.r.hgetall(t.job("old"))  # version 1 costs no field
    got = claim(lua, 2, request="r1")
    assert [(got[i], got[i + 5]) for i in range(0, len(got), 6)] == [("old", 1), ("new", 3)]
    assert claim(lua, 2, request="r1") == got  # a replayed claim returns the versions too


def test_defer_puts_the_job_back_delayed_with_nothing_counted(lua: Lua) -> None:
    enqueue(lua, "a", '{"v":2}')
    token = claim(lua, 1)[1]
    assert lua.run("defer", DEFER_KEYS, [NOW, NOW + 5000, "a", token, "b", "x"]) == [1, 0]
    snap = lua.snapshot()
    job = snap[t.job("a")]
    assert (job["state"], job["attempt"], job["run_at"]) == ("delayed", "0", str(NOW + 5000))
    assert "lock" not in job and "stalls" not in job and "error" not in job
    assert snap[t.delayed] == [("a", NOW + 5000)]
    assert t.active not in snap
    assert snap[t.marker] == [("0", NOW + 5000)]
    assert snap[t.events][-1] == {"event": "delayed", "job": "a", "at": str(NOW + 5000)} | {
        "reason": "too new"
    }
    assert claim(lua, 1, NOW + 1) == []  # the old worker does not take it straight back
    got = claim(lua, 1, NOW + 5000)
    assert (got[0], got[2], got[5]) == ("a", 1, 2)  # its first attempt, still version 2


def test_defer_of_a_job_asked_to_cancel_ends_it_cancelled(lua: Lua) -> None:
    enqueue(lua, "a", '{"v":2}')
    token = claim(lua, 1)[1]
    lua.r.hset(t.job("a"), "cancel", "")
    assert lua.run("defer", DEFER_KEYS, [NOW, NOW + 5000, "a", token]) == [2]
    snap = lua.snapshot()
    assert snap[t.job("a")]["state"] == "cancelled"
    assert snap[t.cancelled] == [("a", NOW)]
    assert t.delayed not in snap
