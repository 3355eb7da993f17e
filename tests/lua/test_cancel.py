"""cancel.lua, and how the finishing scripts end a job that was asked to cancel while active."""

from __future__ import annotations

import time
from typing import Any

from harness import NOW, Lua
from harness import T as t

CLAIM_KEYS = [t.wait, t.prioritized, t.delayed, t.active, t.events, t.marker]
CANCEL_KEYS = [t.wait, t.prioritized, t.delayed, t.events, t.cancelled]
SPAN = 10**13
LATER = NOW + 500


def ev(event: str, job: str, **extra: Any) -> dict[str, str]:
    return {"event": event, "job": job, **{k: str(v) for k, v in extra.items()}}


def enqueue(lua: Lua, job_id: str, prio: int = 0) -> None:
    keys = [t.wait, t.prioritized, t.events, t.marker]
    lua.run("enqueue", keys, [job_id, "{}", NOW, prio, 0, ""])


def claim(lua: Lua, count: int = 1) -> list[Any]:
    return list(lua.run("claim", [*CLAIM_KEYS, t.expired], [NOW, 30_000, "w1", count, 100]))


def cancel(lua: Lua, job_id: str, reason: str = "no longer needed") -> list[str]:
    return list(lua.run("cancel", CANCEL_KEYS, [job_id, LATER, reason, t.cancel_channel]))


def test_cancel_of_a_waiting_job_removes_it_from_the_line_at_once(lua: Lua) -> None:
    enqueue(lua, "a")
    enqueue(lua, "b")
    assert cancel(lua, "a") == ["cancelled", "waiting"]
    assert lua.snapshot() == {
        t.cancelled: [("a", LATER)],
        t.events: [ev("waiting", "a"), ev("waiting", "b"), ev("cancelled", "a")],
        t.job("a"): {
            "state": "cancelled",
            "t": str(NOW),
            "1": "{}",
            "finished": str(LATER),
            "cancel": "no longer needed",
        },
        t.job("b"): {"t": str(NOW), "1": "{}"},
        t.marker: [("0", 0)],
        t.wait: ["b"],
    }


def test_cancel_of_a_prioritized_job_removes_it_from_its_band(lua: Lua) -> None:
    enqueue(lua, "p", prio=3)
    assert cancel(lua, "p", "") == ["cancelled", "waiting"]
    assert lua.snapshot() == {
        t.cancelled: [("p", LATER)],
        t.events: [ev("waiting", "p"), ev("cancelled", "p")],
        t.job("p"): {
            "state": "cancelled",
            "t": str(NOW),
            "1": "{}",
            "prio": "3",
            "finished": str(LATER),
            "cancel": "",
        },
        t.marker: [("0", 0)],
        t.seq: str(NOW),
    }


def test_cancel_of_a_delayed_or_retrying_job_takes_it_off_the_schedule(lua: Lua) -> None:
    keys = [t.delayed, t.events, t.marker]
    lua.run("enqueue_delayed", keys, ["d", "{}", NOW, 0, NOW + 60_000, 0, ""])
    assert cancel(lua, "d") == ["cancelled", "delayed"]
    assert lua.snapshot() == {
        t.cancelled: [("d", LATER)],
        t.events: [ev("delayed", "d"), ev("cancelled", "d")],
        t.job("d"): {
            "state": "cancelled",
            "t": str(NOW),
            "1": "{}",
            "run_at": str(NOW + 60_000),
            "finished": str(LATER),
            "cancel": "no longer needed",
        },
        t.marker: [("0", NOW + 60_000)],  # an idle worker wakes then and finds nothing: harmless
    }


def test_cancel_of_an_active_job_flags_it_and_keeps_its_lock(lua: Lua) -> None:
    enqueue(lua, "a")
    token = claim(lua)[1]
    listener = lua.r.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(t.cancel_channel)
    try:
        assert cancel(lua, "a") == ["flagged", "active"]
        assert cancel(lua, "a", "a second reason") == ["flagged", "active"]
        got: list[str] = []
        deadline = time.monotonic() + 5
        while len(got) < 2 and time.monotonic() < deadline:
            message = listener.get_message(timeout=0.5)
            if message is not None:
                got.append(message["data"])
    finally:
        listener.close()
    assert got == ["a", "a"]
    snap = lua.snapshot()
    assert snap[t.job("a")]["cancel"] == "no longer needed"  # the first reason stays
    assert snap[t.job("a")]["lock"] == token
    assert snap[t.job("a")]["state"] == "active"
    assert snap[t.active] == [("a", NOW + 30_000)]
    assert t.cancelled not in snap


def test_cancel_of_a_finished_or_missing_job_changes_nothing(lua: Lua) -> None:
    enqueue(lua, "a")
    token = claim(lua)[1]
    keys = [*CLAIM_KEYS, t.completed, t.expired, t.cancelled, t.counts]
    lua.run("ack_and_claim", keys, [NOW, 30_000, "w1", 0, 100, -1, -1, "", 1, "a", token, "1"])
    before = lua.snapshot()
    assert cancel(lua, "a") == ["finished", "completed"]
    assert cancel(lua, "nope") == ["missing", ""]
    assert lua.snapshot() == before


def flagged(lua: Lua) -> str:
    enqueue(lua, "a")
    token: str = claim(lua)[1]
    cancel(lua, "a")
    return token


def assert_ended_cancelled(lua: Lua, at: int) -> dict[str, Any]:
    snap = lua.snapshot()
    job = snap[t.job("a")]
    assert (job["state"], job["finished"], job["cancel"]) == (
        "cancelled",
        str(at),
        "no longer needed",
    )
    assert "lock" not in job and "result" not in job
    assert snap[t.cancelled] == [("a", at)]
    assert t.active not in snap
    assert snap[t.events][-1] == ev("cancelled", "a")
    return snap


def test_an_ack_of_a_flagged_job_ends_it_cancelled_not_completed(lua: Lua) -> None:
    token = flagged(lua)
    keys = [*CLAIM_KEYS, t.completed, t.expired, t.cancelled, t.counts]
    args = [NOW + 9, 30_000, "w1", 0, 100, -1, -1, "", 1, "a", token, '"done"']
    assert lua.run("ack_and_claim", keys, args) == [[2], []]
    snap = assert_ended_cancelled(lua, NOW + 9)
    assert t.completed not in snap


def test_a_failure_of_a_flagged_job_ends_it_cancelled_without_a_retry(lua: Lua) -> None:
    token = flagged(lua)
    keys = [*CLAIM_KEYS, t.failed, t.expired, t.cancelled, t.counts]
    args = [NOW + 9, 30_000, "w1", 0, 100, "a", token, "{}", NOW + 1000, -1, -1]
    assert lua.run("fail_and_claim", keys, args) == [3, []]
    snap = assert_ended_cancelled(lua, NOW + 9)
    assert t.delayed not in snap and t.failed not in snap


def test_the_heartbeat_tells_the_owner_its_job_was_asked_to_cancel(lua: Lua) -> None:
    token = flagged(lua)
    assert lua.run("extend_lock", [t.active], [NOW + 10, 30_000, "a", token]) == [2]
    assert lua.snapshot()[t.active] == [("a", NOW + 30_010)]  # still extended


def test_a_flagged_job_handed_back_ends_cancelled_instead_of_waiting(lua: Lua) -> None:
    token = flagged(lua)
    keys = [t.wait, t.prioritized, t.active, t.events, t.marker, t.cancelled]
    assert lua.run("nack", keys, [NOW + 9, "a", token]) == [2]
    snap = assert_ended_cancelled(lua, NOW + 9)
    assert t.wait not in snap


def test_a_flagged_job_that_stalls_ends_cancelled_instead_of_recovering(lua: Lua) -> None:
    flagged(lua)
    keys = [t.wait, t.prioritized, t.active, t.failed, t.events, t.marker, t.sweep]
    keys += [t.completed, t.cancelled, t.expired]
    now = NOW + 60_000
    assert lua.run("stall_sweep", keys, [now, 1000, 1, 100, -1, -1, -1, -1]) == [0, 0]
    snap = assert_ended_cancelled(lua, now)
    assert t.wait not in snap
