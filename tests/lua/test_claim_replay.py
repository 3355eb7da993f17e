"""Claiming calls are idempotent per request: the same request id sent again (after a dropped
connection) gets the first run's reply, and nothing more is claimed, settled or recorded."""

from __future__ import annotations

from typing import Any

from harness import NOW, Lua, T

t = T
TTL = 30_000
CLAIM_KEYS = [t.wait, t.prioritized, t.delayed, t.active, t.events, t.marker]
ACK_KEYS = [*CLAIM_KEYS, t.completed, t.expired, t.cancelled, t.counts, t.lastclaim("w1")]
FAIL_KEYS = [*CLAIM_KEYS, t.failed, t.expired, t.cancelled, t.counts, t.lastclaim("w1")]


def enqueue(lua: Lua, *ids: str) -> None:
    for job_id in ids:
        args = [job_id, f'"{job_id}"', NOW - 100, 0, 0, ""]
        lua.run("enqueue", [t.wait, t.prioritized, t.events, t.marker], args)


def claim(lua: Lua, count: int, request: str, now: int = NOW, worker: str = "w1") -> list[Any]:
    keys = [*CLAIM_KEYS, t.expired, t.lastclaim(worker)]
    return list(lua.run("claim", keys, [now, TTL, worker, count, 100, request]))


def ids(flat: list[Any]) -> list[str]:
    return flat[0::6]


def test_a_replayed_claim_returns_the_same_jobs_and_locks_nothing_else(lua: Lua) -> None:
    enqueue(lua, "a", "b", "c")
    first = claim(lua, 2, "r1")
    assert ids(first) == ["a", "b"]
    after_first = lua.snapshot()

    again = claim(lua, 2, "r1", now=NOW + 5)  # the same request, sent again a little later
    assert again == first  # same ids, tokens, attempts, data and dispatch times
    after = lua.snapshot()
    assert after == after_first  # nothing claimed, promoted, emitted or extended
    assert after[t.wait] == ["c"]
    assert [job for job, _ in after[t.active]] == ["a", "b"]

    assert ids(claim(lua, 2, "r2")) == ["c"]  # a new request claims on


def test_the_last_request_is_kept_per_worker_for_the_lock_ttl(lua: Lua) -> None:
    enqueue(lua, "a", "b")
    assert ids(claim(lua, 1, "r1", worker="w1")) == ["a"]
    assert ids(claim(lua, 1, "r1", worker="w2")) == ["b"]  # another worker's own request
    assert 0 < lua.r.pttl(t.lastclaim("w1")) <= TTL
    assert claim(lua, 1, "", worker="w1") == []  # no request id: not protected, not stored
    assert lua.r.hget(t.lastclaim("w1"), "req") == "r1"


def test_a_replayed_ack_and_claim_settles_and_claims_nothing_more(lua: Lua) -> None:
    enqueue(lua, "a", "b", "c")
    [a_id, a_token, *_] = claim(lua, 1, "r1")
    args = [NOW + 10, TTL, "w1", 1, 100, -1, -1, "r2", 1, a_id, a_token, "1"]
    first = lua.run("ack_and_claim", ACK_KEYS, args)
    assert (first[0], ids(first[1])) == ([1], ["b"])
    after_first = lua.snapshot()

    assert lua.run("ack_and_claim", ACK_KEYS, args) == first  # not [0] (lock lost), not "c"
    assert lua.snapshot() == after_first
    assert [e["event"] for e in after_first[t.events]].count("completed") == 1


def test_a_replayed_fail_and_claim_records_one_failure(lua: Lua) -> None:
    enqueue(lua, "a", "b", "c")
    [a_id, a_token, *_] = claim(lua, 1, "r1")
    error = '{"type":"E","message":"boom"}'
    args = [NOW + 10, TTL, "w1", 1, 100, a_id, a_token, error, -1, -1, -1, "r2"]
    first = lua.run("fail_and_claim", FAIL_KEYS, args)
    assert (first[0], ids(first[1])) == (2, ["b"])
    after_first = lua.snapshot()

    assert lua.run("fail_and_claim", FAIL_KEYS, args) == first
    assert lua.snapshot() == after_first
    assert [e["event"] for e in after_first[t.events]].count("failed") == 1


def test_a_replay_leaves_out_jobs_settled_since(lua: Lua) -> None:
    enqueue(lua, "a", "b")
    first = claim(lua, 2, "r1")
    a_id, a_token = first[0], first[1]
    ack = [NOW + 10, TTL, "w1", 0, 100, -1, -1, "", 1, a_id, a_token, "1"]
    assert lua.run("ack_and_claim", ACK_KEYS, ack)[0] == [1]  # "" keeps r1 as the last one
    assert ids(claim(lua, 2, "r1")) == ["b"]  # "a" is done: not handed out again


def test_a_replay_leaves_the_marker_as_the_first_run_did(lua: Lua) -> None:
    # Between the first run and its replay the caller's waker took the marker (a wake-up it
    # answers with this very call): the replay must leave it, or the jobs still waiting wake
    # no other idle worker until its next look.
    enqueue(lua, "a", "b", "c", "d")
    assert ids(claim(lua, 1, "r1")) == ["a"]
    marker = lua.r.zrange(t.marker, 0, -1, withscores=True)
    assert marker  # "b", "c" and "d" wait
    lua.r.delete(t.marker)
    claim(lua, 1, "r1")
    assert lua.r.zrange(t.marker, 0, -1, withscores=True) == marker

    [a_id, a_token, *_] = claim(lua, 1, "r1")
    ack = [NOW + 10, TTL, "w1", 1, 100, -1, -1, "r2", 1, a_id, a_token, "1"]
    [b_id, b_token, *_] = lua.run("ack_and_claim", ACK_KEYS, ack)[1]
    lua.r.delete(t.marker)
    lua.run("ack_and_claim", ACK_KEYS, ack)
    assert lua.r.zrange(t.marker, 0, -1, withscores=True) == marker

    error = '{"type":"E","message":"boom"}'
    fail = [NOW + 20, TTL, "w1", 1, 100, b_id, b_token, error, -1, -1, -1, "r3"]
    lua.run("fail_and_claim", FAIL_KEYS, fail)
    lua.r.delete(t.marker)
    lua.run("fail_and_claim", FAIL_KEYS, fail)
    assert lua.r.zrange(t.marker, 0, -1, withscores=True) == marker
