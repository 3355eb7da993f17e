"""Each state-transition script, seeded and run on the real server with a fixed now_ms."""

from __future__ import annotations

from typing import Any

from harness import NOW, Lua
from harness import T as t

from taskora_cli.engine.keys import TaskKeys

CLAIM_KEYS = [t.wait, t.prioritized, t.delayed, t.active, t.events, t.marker]
SPAN = 10**13


def ev(event: str, job: str, **extra: Any) -> dict[str, str]:
    return {"event": event, "job": job, **{k: str(v) for k, v in extra.items()}}


def enqueue(lua: Lua, job_id: str, data: str = "{}", now: int = NOW, prio: int = 0) -> Any:
    return lua.run(
        "enqueue",
        [t.wait, t.prioritized, t.events, t.marker],
        [job_id, data, now, prio, 0, ""],
    )


def claim(lua: Lua, count: int, now: int = NOW, worker: str = "w1", ttl: int = 30_000) -> list[Any]:
    return list(lua.run("claim", [*CLAIM_KEYS, t.expired], [now, ttl, worker, count, 100]))


def test_enqueue_stores_the_job_and_wakes_workers(lua: Lua) -> None:
    assert enqueue(lua, "a", '{"x":1}') == 1
    assert lua.snapshot() == {
        t.events: [ev("waiting", "a")],
        t.job("a"): {"t": str(NOW), "1": '{"x":1}'},
        t.marker: [("0", 0)],
        t.wait: ["a"],
    }


def test_enqueue_with_priority_goes_to_the_prioritized_set(lua: Lua) -> None:
    enqueue(lua, "p", prio=5)
    assert lua.snapshot() == {
        t.events: [ev("waiting", "p")],
        t.job("p"): {"t": str(NOW), "1": "{}", "prio": "5"},
        t.marker: [("0", 0)],
        t.prioritized: [("p", -5 * SPAN + NOW)],
        t.seq: str(NOW),  # the last position given in the bands
    }


def test_jobs_of_one_priority_queued_in_one_millisecond_keep_their_order(lua: Lua) -> None:
    for job_id in ("x", "y", "z"):
        enqueue(lua, job_id, prio=5)
    enqueue(lua, "later", prio=5, now=NOW + 10)
    snap = lua.snapshot()
    assert snap[t.prioritized] == [
        ("x", -5 * SPAN + NOW),
        ("y", -5 * SPAN + NOW + 1),
        ("z", -5 * SPAN + NOW + 2),
        ("later", -5 * SPAN + NOW + 10),  # the position catches up with the time
    ]
    assert snap[t.seq] == str(NOW + 10)
    assert claim(lua, 4)[0::6] == ["x", "y", "z", "later"]


def test_enqueue_of_an_existing_id_changes_nothing(lua: Lua) -> None:
    enqueue(lua, "a", '{"x":1}')
    before = lua.snapshot()
    assert enqueue(lua, "a", '{"x":2}') == 0
    assert lua.snapshot() == before


def test_enqueue_delayed_schedules_and_lowers_the_marker(lua: Lua) -> None:
    keys = [t.delayed, t.events, t.marker]
    assert lua.run("enqueue_delayed", keys, ["d", "{}", NOW, 0, NOW + 5000, 0, ""]) == 1
    lua.run("enqueue_delayed", keys, ["e", "{}", NOW, 0, NOW + 9000, 0, ""])
    assert lua.snapshot() == {
        t.delayed: [("d", NOW + 5000), ("e", NOW + 9000)],
        t.events: [ev("delayed", "d"), ev("delayed", "e")],
        t.job("d"): {"state": "delayed", "t": str(NOW), "1": "{}", "run_at": str(NOW + 5000)},
        t.job("e"): {"state": "delayed", "t": str(NOW), "1": "{}", "run_at": str(NOW + 9000)},
        t.marker: [("0", NOW + 5000)],
    }


def test_enqueue_bulk_mixes_immediate_delayed_and_duplicates(lua: Lua) -> None:
    enqueue(lua, "dup")
    keys = [t.wait, t.prioritized, t.delayed, t.events, t.marker]
    args = [NOW, "a", "1", 0, 0, 0, "", 0, "b", "2", 3, 0, 0, "", 0]
    args += ["c", "3", 0, NOW + 100, 0, "", 0, "dup", "4", 0, 0, 0, "", 0]
    assert lua.run("enqueue_bulk", keys, args) == [1, 1, 1, 0]
    snap = lua.snapshot()
    assert snap[t.wait] == ["a", "dup"]
    assert snap[t.prioritized] == [("b", -3 * SPAN + NOW)]
    assert snap[t.delayed] == [("c", NOW + 100)]
    assert snap[t.marker] == [("0", 0)]
    assert snap[t.job("dup")]["1"] == "{}"


def test_enqueue_bulk_keeps_the_order_of_a_batch_within_a_priority(lua: Lua) -> None:
    keys = [t.wait, t.prioritized, t.delayed, t.events, t.marker]
    args: list[Any] = [NOW]
    for job_id, prio in (("q", 0), ("c", 2), ("p", 0), ("a", 2), ("r", 0), ("b", 2)):
        args += [job_id, "{}", prio, 0, 0, "", 0]
    assert lua.run("enqueue_bulk", keys, args) == [1] * 6
    assert lua.snapshot()[t.wait] == ["r", "p", "q"]
    assert claim(lua, 6)[0::6] == ["c", "a", "b", "q", "p", "r"]


def test_claim_takes_priority_first_then_fifo_and_locks(lua: Lua) -> None:
    enqueue(lua, "a")
    enqueue(lua, "b")
    enqueue(lua, "hi", prio=9, now=NOW + 1)
    got = claim(lua, 2, now=NOW + 10)
    token = f"w1:1:{NOW + 10}"
    assert got == ["hi", token, 1, "{}", str(NOW + 1), 1, "a", token, 1, "{}", str(NOW), 1]
    snap = lua.snapshot()
    assert snap[t.active] == [("a", NOW + 10 + 30_000), ("hi", NOW + 10 + 30_000)]
    assert snap[t.job("a")] == {
        "state": "active",
        "t": str(NOW),
        "1": "{}",
        "attempt": "1",
        "started": str(NOW + 10),
        "lock": token,
    }
    assert snap[t.wait] == ["b"]
    assert snap[t.marker] == [("0", 0)]  # b is still waiting: keep idle workers awake
    # one event for the batch: ids and attempts separated by spaces, in claim order
    assert snap[t.events][-1] == ev("active", "hi a", attempt="1 1")


def test_a_big_batch_is_announced_in_events_of_at_most_32_jobs(lua: Lua) -> None:
    keys = [t.wait, t.prioritized, t.delayed, t.events, t.marker]
    ids = [f"j{i:02}" for i in range(40)]
    args: list[Any] = [NOW]
    for job_id in ids:
        args += [job_id, "{}", 0, 0, 0, "", 0]
    lua.run("enqueue_bulk", keys, args)
    assert lua.snapshot()[t.events] == [
        ev("waiting", " ".join(ids[:32])),
        ev("waiting", " ".join(ids[32:])),
    ]


def test_claim_promotes_due_jobs_in_due_order(lua: Lua) -> None:
    keys = [t.delayed, t.events, t.marker]
    for job_id, due in (("late", 300), ("early", 100), ("mid", 200), ("future", 10_000)):
        lua.run("enqueue_delayed", keys, [job_id, "{}", NOW, 0, NOW + due, 0, ""])
    got = claim(lua, 3, now=NOW + 500)
    assert got[0::6] == ["early", "mid", "late"]
    snap = lua.snapshot()
    assert snap[t.delayed] == [("future", NOW + 10_000)]
    assert snap[t.marker] == [("0", NOW + 10_000)]  # next due time for the blocked workers


def test_claim_with_nothing_to_do_clears_the_marker(lua: Lua) -> None:
    lua.r.zadd(t.marker, {"0": 0})
    assert claim(lua, 5) == []
    assert lua.snapshot() == {}


def test_ack_and_claim_completes_and_claims_the_next(lua: Lua) -> None:
    enqueue(lua, "a")
    enqueue(lua, "b")
    _, token = claim(lua, 1)[:2]
    keys = [*CLAIM_KEYS, t.completed, t.expired, t.cancelled, t.counts]
    acked, claimed = lua.run(
        "ack_and_claim",
        keys,
        [NOW + 5, 30_000, "w1", 1, 100, -1, -1, "", 2, "a", token, "42", "b", "bad", "0"],
    )
    assert acked == [1, 0]  # b was not claimed with that token
    assert claimed[0] == "b"
    snap = lua.snapshot()
    assert snap[t.job("a")] == {
        "state": "completed",
        "t": str(NOW),
        "1": "{}",
        "attempt": "1",
        "started": str(NOW),
        "finished": str(NOW + 5),
        "result": "42",
    }
    assert snap[t.completed] == [("a", NOW + 5)]
    assert snap[t.active] == [("b", NOW + 5 + 30_000)]
    assert t.marker not in snap
    assert ev("completed", "a") in snap[t.events]


def test_ack_and_claim_settles_a_whole_batch(lua: Lua) -> None:
    for job_id in ("a", "b", "c", "d"):
        enqueue(lua, job_id)
    got = claim(lua, 3)
    args: list[Any] = [NOW + 7, 30_000, "w1", 0, 100, -1, -1, "", 3]
    for i in range(3):
        args += [got[6 * i], got[6 * i + 1], f'"{got[6 * i]}"']
    acked, claimed = lua.run(
        "ack_and_claim", [*CLAIM_KEYS, t.completed, t.expired, t.cancelled, t.counts], args
    )
    assert (acked, claimed) == ([1, 1, 1], [])
    snap = lua.snapshot()
    assert snap[t.completed] == [("a", NOW + 7), ("b", NOW + 7), ("c", NOW + 7)]
    assert t.active not in snap
    assert snap[t.wait] == ["d"]
    assert [snap[t.job(j)]["result"] for j in "abc"] == ['"a"', '"b"', '"c"']
    assert all("lock" not in snap[t.job(j)] for j in "abc")
    assert snap[t.events][-1] == ev("completed", "a b c")


def test_fail_and_claim_schedules_a_retry(lua: Lua) -> None:
    enqueue(lua, "a")
    _, token = claim(lua, 1)[:2]
    keys = [*CLAIM_KEYS, t.failed, t.expired, t.cancelled, t.counts]
    status, claimed = lua.run(
        "fail_and_claim",
        keys,
        [NOW, 30_000, "w1", 1, 100, "a", token, '{"m":1}', NOW + 1000, -1, -1],
    )
    assert (status, claimed) == (1, [])
    snap = lua.snapshot()
    assert snap[t.delayed] == [("a", NOW + 1000)]
    assert snap[t.job("a")]["state"] == "retrying"
    assert snap[t.job("a")]["error"] == '{"m":1}'
    assert t.active not in snap
    assert snap[t.marker] == [("0", NOW + 1000)]
    assert snap[t.events][-1] == ev("retrying", "a", at=NOW + 1000)


def test_fail_and_claim_without_retry_dead_letters(lua: Lua) -> None:
    enqueue(lua, "a")
    _, token = claim(lua, 1)[:2]
    keys = [*CLAIM_KEYS, t.failed, t.expired, t.cancelled, t.counts]
    status, _ = lua.run(
        "fail_and_claim", keys, [NOW + 1, 30_000, "w1", 0, 100, "a", token, "{}", -1, -1, -1]
    )
    assert status == 2
    snap = lua.snapshot()
    assert snap[t.failed] == [("a", NOW + 1)]
    assert snap[t.job("a")]["state"] == "failed"
    assert "lock" not in snap[t.job("a")]


def test_fail_with_a_stale_token_is_refused(lua: Lua) -> None:
    enqueue(lua, "a")
    claim(lua, 1)
    before = lua.snapshot()
    keys = [*CLAIM_KEYS, t.failed, t.expired, t.cancelled, t.counts]
    status, _ = lua.run(
        "fail_and_claim", keys, [NOW, 30_000, "w1", 0, 100, "a", "stale", "{}", -1, -1, -1]
    )
    assert status == 0
    assert lua.snapshot() == before


def test_extend_lock_moves_the_deadline_only_for_the_owner(lua: Lua) -> None:
    enqueue(lua, "a")
    enqueue(lua, "b")
    got = claim(lua, 2)
    token_a, token_b = got[1], got[7]
    assert token_a == token_b  # same worker, attempt and time; ids differ
    flags = lua.run("extend_lock", [t.active], [NOW + 10_000, 30_000, "a", token_a, "b", "other"])
    assert flags == [1, 0]
    assert lua.snapshot()[t.active] == [("b", NOW + 30_000), ("a", NOW + 40_000)]


def test_nack_of_several_jobs_keeps_their_order(lua: Lua) -> None:
    for job_id in ("a", "b", "c"):
        enqueue(lua, job_id)
    got = claim(lua, 2)
    keys = [t.wait, t.prioritized, t.active, t.events, t.marker]
    args = [NOW, "a", got[1], "b", got[7], "gone", "x"]
    assert lua.run("nack", keys, args) == [1, 1, 0]
    assert lua.snapshot()[t.wait] == ["c", "b", "a"]  # a, then b, then c
    assert claim(lua, 3)[0::6] == ["a", "b", "c"]


def test_nack_hands_jobs_back_to_the_front(lua: Lua) -> None:
    for job_id in ("a", "b", "c"):
        enqueue(lua, job_id)
    got = claim(lua, 1)
    keys = [t.wait, t.prioritized, t.active, t.events, t.marker]
    assert lua.run("nack", keys, [NOW, "a", got[1]]) == [1]
    snap = lua.snapshot()
    assert snap[t.wait] == ["c", "b", "a"]  # RPOP takes "a" next
    assert snap[t.job("a")]["attempt"] == "0"
    assert "state" not in snap[t.job("a")] and snap[t.job("a")]["t"] == str(NOW)  # waiting
    assert t.active not in snap


def sweep(lua: Lua, now: int, max_stalls: int = 1, keys: TaskKeys = t) -> Any:
    skeys = [
        keys.wait,
        keys.prioritized,
        keys.active,
        keys.failed,
        keys.events,
        keys.marker,
        keys.sweep,
        keys.completed,
        keys.cancelled,
        keys.expired,
        keys.counts,
        keys.tag,
    ]
    return lua.run("stall_sweep", skeys, [now, 1000, max_stalls, 100, -1, -1, -1, -1])


def test_stall_sweep_recovers_a_job_whose_lock_expired(lua: Lua) -> None:
    enqueue(lua, "a")
    enqueue(lua, "b")
    claim(lua, 1, ttl=1000)
    assert sweep(lua, NOW + 500) == [0, 0]  # lock still valid
    assert sweep(lua, NOW + 1001) == [-1, -1]  # another worker swept this period
    assert sweep(lua, NOW + 1500) == [1, 0]
    snap = lua.snapshot()
    assert snap[t.wait] == ["b", "a"]  # recovered job runs next
    assert snap[t.job("a")]["stalls"] == "1"
    assert snap[t.job("a")]["attempt"] == "0"
    assert "lock" not in snap[t.job("a")]
    assert snap[t.events][-1] == ev("stalled", "a", action="recovered", count=1)
    assert snap[t.sweep] == str(NOW + 2500)


def test_stall_sweep_never_resurrects_a_finished_job(lua: Lua) -> None:
    enqueue(lua, "a")
    _, token = claim(lua, 1, ttl=1000)[:2]
    sweep(lua, NOW + 10)
    lua.run(
        "ack_and_claim",
        [*CLAIM_KEYS, t.completed, t.expired, t.cancelled, t.counts],
        [NOW + 20, 1000, "w1", 0, 100, -1, -1, "", 1, "a", token, "1"],
    )
    assert sweep(lua, NOW + 5000) == [0, 0]
    snap = lua.snapshot()
    assert snap[t.job("a")]["state"] == "completed"
    assert t.wait not in snap


def test_stall_sweep_fails_a_job_that_stalls_too_often(lua: Lua) -> None:
    enqueue(lua, "a")
    claim(lua, 1, ttl=1000)
    sweep(lua, NOW + 2000, max_stalls=0)
    snap = lua.snapshot()
    assert snap[t.failed] == [("a", NOW + 2000)]
    assert snap[t.job("a")]["state"] == "failed"
    assert "StalledError" in snap[t.job("a")]["error"]
    assert snap[t.counts] == {f"f:{(NOW + 2000) // 60_000}": "1"}
    assert snap[t.events][-2:] == [
        ev("stalled", "a", action="failed", count=1),
        ev("failed", "a", attempt=1, will_retry=0),  # the attempt that stalled
    ]


def test_handshake_writes_once_and_returns_what_is_stored(lua: Lua) -> None:
    meta = "taskora:{_global}:meta"
    assert lua.run("handshake", [meta], [1, 1, "a", NOW]) == ["1", "1", "a", str(NOW)]
    assert lua.run("handshake", [meta], [2, 2, "b", NOW + 1]) == ["1", "1", "a", str(NOW)]


def test_finishing_counts_per_minute_and_forgets_minutes_older_than_a_day(lua: Lua) -> None:
    minute = NOW // 60_000
    stale = {f"c:{minute - 1440}": "7", f"f:{minute - 1441}": "2", f"c:{minute - 1439}": "3"}
    lua.r.hset(t.counts, mapping=stale)
    for job_id in ("a", "b", "c"):
        enqueue(lua, job_id)
    got = claim(lua, 3)
    args: list[Any] = [NOW + 1, 30_000, "w1", 0, 100, -1, -1, "", 2]
    args += [got[0], got[1], "1", got[6], got[7], "2"]
    keys = [*CLAIM_KEYS, t.completed, t.expired, t.cancelled, t.counts]
    assert lua.run("ack_and_claim", keys, args) == [[1, 1], []]
    # the minute's first count dropped the fields a day old or more, and kept the younger one
    assert lua.r.hgetall(t.counts) == {f"c:{minute - 1439}": "3", f"c:{minute}": "2"}
    fail_keys = [*CLAIM_KEYS, t.failed, t.expired, t.cancelled, t.counts]
    fail_args = [NOW + 2, 30_000, "w1", 0, 100, got[12], got[13], "{}", -1, -1, -1]
    assert lua.run("fail_and_claim", fail_keys, fail_args) == [2, []]
    assert lua.r.hgetall(t.counts)[f"f:{minute}"] == "1"
    retry_args = [*fail_args[:9], NOW + 5000, -1, -1]  # a retry is not a failure for good
    lua.run("fail_and_claim", fail_keys, retry_args)
    assert lua.r.hgetall(t.counts)[f"f:{minute}"] == "1"


def test_wire_migrate_takes_over_only_a_format_this_code_reads(lua: Lua) -> None:
    meta = "taskora:{_global}:meta"
    args = [3, 3, 2, "taskora-py", NOW]  # writes 3, shares with >= 3, reads 2 as it is
    assert lua.run("wire_migrate", [meta], args) == ["current", ""]  # no record: nothing to do
    assert lua.r.exists(meta) == 0
    lua.r.hset(meta, mapping={"wire_version": 1, "min_compat": 1})
    assert lua.run("wire_migrate", [meta], args) == ["unreadable", "1"]
    assert lua.r.hget(meta, "wire_version") == "1"
    lua.r.hset(meta, mapping={"wire_version": 2, "min_compat": 2})
    assert lua.run("wire_migrate", [meta], args) == ["migrated", "2"]
    assert lua.r.hmget(meta, "wire_version", "min_compat", "migrated_from") == ["3", "3", "2"]
    assert lua.run("wire_migrate", [meta], args) == ["current", "3"]  # run twice: a no-op
    lua.r.hset(meta, mapping={"wire_version": 5, "min_compat": 4})
    assert lua.run("wire_migrate", [meta], args) == ["newer", "5"]
    assert lua.r.hget(meta, "wire_version") == "5"
