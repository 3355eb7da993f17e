"""Flow-control scripts and the flow-control fields of the claim/finish scripts, run on the real
server with a fixed now_ms (so throttle windows and debounce delays move in virtual time)."""

from __future__ import annotations

import json
from typing import Any

from harness import NOW, Lua
from harness import T as t

from taskora_cli.engine.records import job_state

FLOW_KEYS = [t.wait, t.prioritized, t.delayed, t.events, t.marker]
CLAIM_KEYS = [t.wait, t.prioritized, t.delayed, t.active, t.events, t.marker, t.expired]
FINISH_KEYS = [t.wait, t.prioritized, t.delayed, t.active, t.events, t.marker]


def ev(event: str, job: str, **extra: Any) -> dict[str, str]:
    return {"event": event, "job": job, **{k: str(v) for k, v in extra.items()}}


def dedup(lua: Lua, job_id: str, now: int = NOW, states: str = "waiting delayed active") -> Any:
    args = [job_id, "{}", now, 0, 0, 0, "", states]
    return lua.run("enqueue_deduplicated", [*FLOW_KEYS, t.dedup("r")], args)


def throttle(lua: Lua, job_id: str, now: int, limit: int = 2, window: int = 1000) -> Any:
    args = [job_id, "{}", now, 0, 0, 0, "", limit, window]
    return lua.run("enqueue_throttled", [*FLOW_KEYS, t.throttle("api")], args)


def debounce(lua: Lua, job_id: str, data: str, now: int, delay: int = 2000) -> Any:
    args = [job_id, data, now, 0, now + delay, 0, ""]
    return lua.run("enqueue_debounced", [*FLOW_KEYS, t.debounce("doc"), t.cancelled], args)


def enqueue(lua: Lua, job_id: str, extra: dict[str, Any] | None = None, exp: int = 0) -> None:
    fields = json.dumps(extra) if extra else ""
    args = [job_id, "{}", NOW, 0, exp, fields]
    lua.run("enqueue", [t.wait, t.prioritized, t.events, t.marker], args)


def claim(lua: Lua, count: int, now: int = NOW, worker: str = "w1") -> list[Any]:
    return list(lua.run("claim", CLAIM_KEYS, [now, 30_000, worker, count, 100]))


def ack(lua: Lua, job_id: str, token: str, now: int = NOW, count: int = 0) -> Any:
    keys = [*FINISH_KEYS, t.completed, t.expired, t.cancelled, t.counts]
    args = [now, 30_000, "w1", count, 100, -1, -1, "", 1, job_id, token, "null"]
    return lua.run("ack_and_claim", keys, args)


def fail(lua: Lua, job_id: str, token: str, retry_at: int = -1, now: int = NOW) -> Any:
    keys = [*FINISH_KEYS, t.failed, t.expired, t.cancelled, t.counts]
    args = [now, 30_000, "w1", 0, 100, job_id, token, "{}", retry_at, -1, -1]
    return lua.run("fail_and_claim", keys, args)


# -- deduplicate ---------------------------------------------------------------------------


def test_a_duplicate_dispatch_returns_the_holder_and_changes_nothing(lua: Lua) -> None:
    assert dedup(lua, "a") == [1, "a"]
    before = lua.snapshot()
    assert dedup(lua, "b") == [0, "a"]
    assert lua.snapshot() == before
    assert before[t.dedup("r")] == "a"
    assert before[t.job("a")]["holds"] == t.dedup("r")


def test_the_dedup_key_frees_itself_when_the_holder_completes(lua: Lua) -> None:
    dedup(lua, "a")
    token = claim(lua, 1)[1]
    assert dedup(lua, "b") == [0, "a"]  # active blocks by default
    ack(lua, "a", token)
    assert lua.r.exists(t.dedup("r")) == 0
    assert dedup(lua, "c") == [1, "c"]


def test_a_holder_outside_the_blocking_states_does_not_block(lua: Lua) -> None:
    dedup(lua, "a", states="waiting")
    claim(lua, 1)  # a is active now; only "waiting" blocks
    assert dedup(lua, "b", states="waiting") == [1, "b"]
    assert lua.r.get(t.dedup("r")) == "b"


def test_a_retrying_holder_keeps_the_key_and_blocks_like_a_delayed_one(lua: Lua) -> None:
    dedup(lua, "a")
    token = claim(lua, 1)[1]
    assert fail(lua, "a", token, retry_at=NOW + 5000)[0] == 1
    assert lua.r.get(t.dedup("r")) == "a"
    assert dedup(lua, "b") == [0, "a"]
    assert dedup(lua, "c", states="waiting active") == [1, "c"]


def test_the_dedup_key_is_released_on_failure_cancel_and_expiry(lua: Lua) -> None:
    dedup(lua, "a")
    fail(lua, "a", claim(lua, 1)[1])
    assert lua.r.exists(t.dedup("r")) == 0
    dedup(lua, "b")
    keys = [t.wait, t.prioritized, t.delayed, t.events, t.cancelled]
    assert lua.run("cancel", keys, ["b", NOW, "", t.cancel_channel])[0] == "cancelled"
    assert lua.r.exists(t.dedup("r")) == 0
    args = ["c", "{}", NOW, 0, 0, NOW + 10, "", "waiting delayed active"]
    lua.run("enqueue_deduplicated", [*FLOW_KEYS, t.dedup("r")], args)
    assert claim(lua, 1, now=NOW + 10) == []
    assert lua.r.hget(t.job("c"), "state") == "expired"
    assert lua.r.exists(t.dedup("r")) == 0


# -- throttle ------------------------------------------------------------------------------


def test_throttle_accepts_max_per_sliding_window_and_says_when_the_next_fits(lua: Lua) -> None:
    assert throttle(lua, "a", NOW) == [1, 0]
    assert throttle(lua, "b", NOW + 600) == [1, 0]
    assert throttle(lua, "c", NOW + 900) == [0, 101]  # a leaves the window after NOW + 1000
    assert lua.r.exists(t.job("c")) == 0
    assert throttle(lua, "d", NOW + 1001) == [1, 0]  # a left; b is still in
    assert throttle(lua, "e", NOW + 1500) == [0, 101]  # a fixed window would let e in
    assert lua.snapshot()[t.throttle("api")] == [("b", NOW + 600), ("d", NOW + 1001)]


# -- debounce ------------------------------------------------------------------------------


def test_debounce_replaces_the_pending_job_and_resets_the_timer(lua: Lua) -> None:
    assert debounce(lua, "a", '"v1"', NOW) == [1, ""]
    assert debounce(lua, "b", '"v2"', NOW + 1500) == [1, "a"]
    snap = lua.snapshot()
    assert snap[t.delayed] == [("b", NOW + 3500)]
    assert snap[t.debounce("doc")] == "b"
    assert snap[t.cancelled] == [("a", NOW + 1500)]
    assert snap[t.job("a")]["state"] == "cancelled"
    assert snap[t.job("a")]["cancel"] == "debounced: replaced by b"
    assert "holds" not in snap[t.job("a")]
    assert snap[t.events][-2] == ev("cancelled", "a", reason="debounced", by="b")
    assert claim(lua, 1, now=NOW + 3499) == []
    got = claim(lua, 1, now=NOW + 3500)
    assert got[0::6] == ["b"] and got[3] == '"v2"'


def test_debounce_leaves_a_job_that_already_started_alone(lua: Lua) -> None:
    debounce(lua, "a", "1", NOW)
    claim(lua, 1, now=NOW + 2000)
    assert debounce(lua, "b", "2", NOW + 2100) == [1, ""]
    assert lua.r.hget(t.job("a"), "state") == "active"
    assert lua.r.get(t.debounce("doc")) == "b"


# -- ttl: discard --------------------------------------------------------------------------


def test_an_expired_job_with_on_expire_discard_is_deleted_and_announced(lua: Lua) -> None:
    enqueue(lua, "a", {"on_expire": "discard"}, exp=NOW + 10)
    lua.r.rpush(t.logs("a"), "{}")
    assert claim(lua, 1, now=NOW + 10) == []
    snap = lua.snapshot()
    assert t.job("a") not in snap and t.logs("a") not in snap
    assert t.expired not in snap
    assert snap[t.events][-1] == ev("expired", "a", discarded=1)


# -- concurrency keys ----------------------------------------------------------------------

CONC = {"conc": t.concurrency("u1"), "conc_q": t.parked("u1"), "conc_max": 1}


def test_a_full_concurrency_key_parks_the_job_and_a_finish_unparks_it(lua: Lua) -> None:
    enqueue(lua, "a", CONC)
    enqueue(lua, "b", CONC)
    enqueue(lua, "c")
    got = claim(lua, 3)
    assert got[0::6] == ["a", "c"]
    assert lua.r.get(t.concurrency("u1")) == "1"
    assert lua.r.lrange(t.parked("u1"), 0, -1) == ["b"]
    assert job_state(*lua.r.hmget(t.job("b"), "state", "t")) == "waiting"
    acked, claimed = ack(lua, "a", got[1], count=1)
    assert acked == [1]
    assert claimed[0] == "b"  # back at the front, claimed in the same call
    assert lua.r.get(t.concurrency("u1")) == "1"
    assert lua.r.exists(t.parked("u1")) == 0


def test_every_exit_from_active_gives_the_slot_back(lua: Lua) -> None:
    conc = dict(CONC, conc_max=5)
    for job_id in ("ok", "failed", "retried", "nacked", "stalled"):
        enqueue(lua, job_id, conc)
    got = claim(lua, 5)
    tokens = dict(zip(got[0::6], got[1::6], strict=True))
    assert lua.r.get(t.concurrency("u1")) == "5"
    ack(lua, "ok", tokens["ok"])
    fail(lua, "failed", tokens["failed"])
    fail(lua, "retried", tokens["retried"], retry_at=NOW + 100)
    keys = [t.wait, t.prioritized, t.active, t.events, t.marker, t.cancelled]
    lua.run("nack", keys, [NOW, "nacked", tokens["nacked"]])
    assert lua.r.get(t.concurrency("u1")) == "1"
    lua.run("release_worker", [t.active, t.sweep], ["w1"])
    sweep = [t.wait, t.prioritized, t.active, t.failed, t.events, t.marker, t.sweep]
    sweep += [t.completed, t.cancelled, t.expired, t.counts]
    assert lua.run("stall_sweep", sweep, [NOW + 1, 1000, 1, 100, -1, -1, -1, -1]) == [1, 0]
    assert lua.r.exists(t.concurrency("u1")) == 0


def test_cancelling_a_parked_job_takes_it_off_the_parked_line(lua: Lua) -> None:
    enqueue(lua, "a", CONC)
    enqueue(lua, "b", CONC)
    claim(lua, 2)
    keys = [t.wait, t.prioritized, t.delayed, t.events, t.cancelled]
    assert lua.run("cancel", keys, ["b", NOW, "", t.cancel_channel])[0] == "cancelled"
    assert lua.r.exists(t.parked("u1")) == 0


# -- collect -------------------------------------------------------------------------------

COLLECT_KEYS = [*FLOW_KEYS, t.collect_items("db"), t.collect_meta("db")]


def push(lua: Lua, job_id: str, item: str, now: int, limits: tuple[int, int, int]) -> Any:
    args = [job_id, item, now, *limits]
    return lua.run("collect_push", COLLECT_KEYS, args)


def test_collect_items_share_one_flush_job_whose_timer_resets(lua: Lua) -> None:
    assert push(lua, "a", "1", NOW, (2000, 0, 0)) == ["a", 1, 0]
    assert push(lua, "b", '"x"', NOW + 500, (2000, 0, 0)) == ["a", 2, 0]
    snap = lua.snapshot()
    assert snap[t.delayed] == [("a", NOW + 2500)]
    assert snap[t.collect_items("db")] == ["1", '"x"']
    assert snap[t.collect_meta("db")] == {
        "count": "2", "first": str(NOW), "last": str(NOW + 500), "job": "a",
    }  # fmt: skip
    assert t.job("b") not in snap
    got = claim(lua, 1, now=NOW + 2500)  # promotion drains the buffer into the job
    assert got[0] == "a" and got[3] == '[1,"x"]'
    after = lua.snapshot()
    assert t.collect_items("db") not in after and t.collect_meta("db") not in after
    assert "collect" not in after[t.job("a")]
    assert push(lua, "c", "3", NOW + 2600, (2000, 0, 0)) == ["c", 1, 0]  # a new batch


def test_max_wait_caps_the_flush_time_from_the_oldest_item(lua: Lua) -> None:
    push(lua, "a", "1", NOW, (2000, 0, 3000))
    push(lua, "b", "2", NOW + 1900, (2000, 0, 3000))
    assert lua.snapshot()[t.delayed] == [("a", NOW + 3000)]  # not NOW + 3900


def test_max_size_flushes_at_once_into_a_waiting_job(lua: Lua) -> None:
    push(lua, "a", "1", NOW, (2000, 3, 0))
    push(lua, "b", "2", NOW + 1, (2000, 3, 0))
    assert push(lua, "c", "3", NOW + 2, (2000, 3, 0)) == ["a", 3, 1]
    snap = lua.snapshot()
    assert t.delayed not in snap
    assert snap[t.wait] == ["a"]
    assert snap[t.job("a")]["1"] == "[1,2,3]"
    assert job_state(snap[t.job("a")].get("state"), snap[t.job("a")].get("t")) == "waiting"
    assert t.collect_items("db") not in snap and t.collect_meta("db") not in snap


def test_parked_jobs_are_indexed_for_the_counts_until_they_leave(lua: Lua) -> None:
    conc = dict(CONC, conc_all=t.parked_all)
    for job_id in ("a", "b", "c"):
        enqueue(lua, job_id, conc)
    got = claim(lua, 3)
    assert lua.r.smembers(t.parked_all) == {"b", "c"}
    keys = [t.wait, t.prioritized, t.delayed, t.events, t.cancelled]
    lua.run("cancel", keys, ["c", NOW, "", t.cancel_channel])
    assert lua.r.smembers(t.parked_all) == {"b"}
    ack(lua, "a", got[1])
    assert lua.r.exists(t.parked_all) == 0
