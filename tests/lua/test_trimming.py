"""Retention in the finishing scripts: trim by age and count, a bounded amount per call."""

from __future__ import annotations

from typing import Any

import pytest
from harness import NOW, Lua
from harness import T as t

CLAIM_KEYS = [t.wait, t.prioritized, t.delayed, t.active, t.events, t.marker]
SWEEP_KEYS = [t.wait, t.prioritized, t.active, t.failed, t.events, t.marker, t.sweep, t.completed]
SWEEP_KEYS += [t.cancelled, t.expired, t.counts]
NO_LIMIT = -1
LOG = '{"msg":"step"}'


def ev(event: str, job: str, **extra: Any) -> dict[str, str]:
    return {"event": event, "job": job, **{k: str(v) for k, v in extra.items()}}


def seed_finished(lua: Lua, state: str, jobs: dict[str, int]) -> None:
    """Finished jobs as the scripts leave them: in their set, with a hash and a log."""
    key = {"completed": t.completed, "failed": t.failed}.get(state) or getattr(t, state)
    for job_id, finished in jobs.items():
        lua.r.zadd(key, {job_id: finished})
        lua.r.hset(t.job(job_id), mapping={"state": state, "finished": str(finished)})
        lua.r.rpush(t.logs(job_id), LOG)


def finished_keys(state: str, jobs: dict[str, int]) -> dict[str, Any]:
    """What seed_finished wrote for ``jobs``, as Lua.snapshot() reads it back."""
    out: dict[str, Any] = {}
    for job_id, finished in jobs.items():
        out[t.job(job_id)] = {"state": state, "finished": str(finished)}
        out[t.logs(job_id)] = [LOG]
    return out


def claim_one(lua: Lua, job_id: str = "new", ttl: int = 30_000) -> str:
    """Enqueue and claim one job (at NOW - 100 / NOW - 50); returns its lock token."""
    lua.run(
        "enqueue",
        [t.wait, t.prioritized, t.events, t.marker],
        [job_id, "{}", NOW - 100, 0, 0, ""],
    )
    claimed = lua.run("claim", [*CLAIM_KEYS, t.expired], [NOW - 50, ttl, "w1", 1, 100])
    assert claimed[0] == job_id
    return str(claimed[1])


def ack(lua: Lua, token: str, max_age: int, max_items: int, job_id: str = "new") -> list[int]:
    args = [NOW, 30_000, "w1", 0, 100, max_age, max_items, "", 1, job_id, token, "1"]
    acked, claimed = lua.run(
        "ack_and_claim", [*CLAIM_KEYS, t.completed, t.expired, t.cancelled, t.counts], args
    )
    assert claimed == []
    return list(acked)


NEW_COMPLETED = {
    "state": "completed",
    "t": str(NOW - 100),
    "1": "{}",
    "attempt": "1",
    "started": str(NOW - 50),
    "finished": str(NOW),
    "result": "1",
}
NEW_EVENTS = [ev("waiting", "new"), ev("active", "new", attempt=1), ev("completed", "new")]

OLD_JOBS = {f"o{i:02}": NOW - 1000 + i for i in range(20)}

ACK_CASES = [
    # (what, max_age, max_items, finished jobs already there, which of them (or "new") go)
    ("no limits keep everything", NO_LIMIT, NO_LIMIT, {"o1": NOW - 10**9}, []),
    (
        "age: only jobs finished strictly before now - max_age go",
        1000,
        NO_LIMIT,
        {"o1": NOW - 5000, "o2": NOW - 1001, "o3": NOW - 1000, "o4": NOW - 1},
        ["o1", "o2"],
    ),
    (
        "count: the oldest beyond max_items go",
        NO_LIMIT,
        2,
        {"o1": NOW - 300, "o2": NOW - 200, "o3": NOW - 100},
        ["o1", "o2"],
    ),
    (
        "age first, then count among the rest",
        1000,
        2,
        {"o1": NOW - 5000, "o2": NOW - 300, "o3": NOW - 200, "o4": NOW - 100},
        ["o1", "o2", "o3"],
    ),
    (
        "max_items 0 keeps none, not even the job just done",
        NO_LIMIT,
        0,
        {"o1": NOW - 1},
        ["o1", "new"],
    ),
    (
        "one call trims at most 2 per finished job + 10, oldest first",
        0,
        NO_LIMIT,
        OLD_JOBS,
        [f"o{i:02}" for i in range(12)],
    ),
    (
        "the count budget is shared with the age trim",
        500,
        1,
        OLD_JOBS,
        [f"o{i:02}" for i in range(12)],
    ),
]


@pytest.mark.parametrize(
    "max_age, max_items, old, gone", [case[1:] for case in ACK_CASES], ids=[c[0] for c in ACK_CASES]
)
def test_ack_and_claim_trims_the_completed_set(
    lua: Lua, max_age: int, max_items: int, old: dict[str, int], gone: list[str]
) -> None:
    token = claim_one(lua)
    seed_finished(lua, "completed", old)

    assert ack(lua, token, max_age, max_items) == [1]

    kept = {job_id: at for job_id, at in {**old, "new": NOW}.items() if job_id not in gone}
    expected: dict[str, Any] = {t.events: NEW_EVENTS, **finished_keys("completed", kept)}
    expected[t.counts] = {f"c:{NOW // 60_000}": "1"}
    if "new" in kept:
        expected[t.job("new")] = NEW_COMPLETED
        del expected[t.logs("new")]  # the fresh job logged nothing
    if kept:
        expected[t.completed] = sorted(kept.items(), key=lambda item: (item[1], item[0]))
    assert lua.snapshot() == expected


def test_two_finished_jobs_buy_a_budget_of_fourteen(lua: Lua) -> None:
    lua.run(
        "enqueue",
        [t.wait, t.prioritized, t.events, t.marker],
        ["n1", "{}", NOW - 100, 0, 0, ""],
    )
    lua.run(
        "enqueue",
        [t.wait, t.prioritized, t.events, t.marker],
        ["n2", "{}", NOW - 100, 0, 0, ""],
    )
    got = lua.run("claim", [*CLAIM_KEYS, t.expired], [NOW - 50, 30_000, "w1", 2, 100])
    seed_finished(lua, "completed", OLD_JOBS)
    args = [NOW, 30_000, "w1", 0, 100, 0, NO_LIMIT, "", 2]
    args += [got[0], got[1], "1", got[6], got[7], "2"]
    assert lua.run(
        "ack_and_claim", [*CLAIM_KEYS, t.completed, t.expired, t.cancelled, t.counts], args
    ) == [[1, 1], []]
    left = [job_id for job_id, _ in lua.snapshot()[t.completed]]
    assert left == [f"o{i:02}" for i in range(14, 20)] + ["n1", "n2"]
    assert not lua.r.exists(t.job("o13"), t.logs("o13"))


def test_an_ack_that_lost_its_lock_trims_nothing(lua: Lua) -> None:
    claim_one(lua)
    seed_finished(lua, "completed", {"o1": NOW - 5000})
    before = lua.snapshot()
    assert ack(lua, "someone-else", 0, 0) == [0]
    assert lua.snapshot() == before


def fail(lua: Lua, token: str, retry_at: int, max_age: int, max_items: int) -> int:
    args = [NOW, 30_000, "w1", 0, 100, "new", token, '{"m":1}', retry_at]
    status, claimed = lua.run(
        "fail_and_claim",
        [*CLAIM_KEYS, t.failed, t.expired, t.cancelled, t.counts],
        [*args, max_age, max_items],
    )
    assert claimed == []
    return int(status)


def test_a_dead_letter_trims_the_failed_set(lua: Lua) -> None:
    token = claim_one(lua)
    old = {"f1": NOW - 9000, "f2": NOW - 500, "f3": NOW - 400}
    seed_finished(lua, "failed", old)

    assert fail(lua, token, -1, 1000, 2) == 2

    assert lua.snapshot() == {
        t.events: [
            ev("waiting", "new"),
            ev("active", "new", attempt=1),
            ev("failed", "new", attempt=1, will_retry=0),
        ],
        t.failed: [("f3", NOW - 400), ("new", NOW)],
        t.job("new"): {
            "state": "failed",
            "t": str(NOW - 100),
            "1": "{}",
            "attempt": "1",
            "started": str(NOW - 50),
            "error": '{"m":1}',
            "finished": str(NOW),
        },
        **finished_keys("failed", {"f3": NOW - 400}),
        t.counts: {f"f:{NOW // 60_000}": "1"},
    }


def test_a_retry_leaves_the_failed_set_alone(lua: Lua) -> None:
    token = claim_one(lua)
    seed_finished(lua, "failed", {"f1": NOW - 9000})

    assert fail(lua, token, NOW + 1000, 0, 0) == 1

    snap = lua.snapshot()
    assert snap[t.failed] == [("f1", NOW - 9000)]
    assert snap[t.job("f1")] == {"state": "failed", "finished": str(NOW - 9000)}
    assert snap[t.logs("f1")] == [LOG]


def sweep(lua: Lua, now: int, limits: tuple[int, int, int, int], max_stalls: int = 0) -> Any:
    return lua.run("stall_sweep", SWEEP_KEYS, [now, 1000, max_stalls, 100, *limits])


def test_the_sweep_trims_both_sets_of_a_quiet_queue(lua: Lua) -> None:
    seed_finished(lua, "completed", {"c1": NOW - 90_000, "c2": NOW - 10, "c3": NOW - 5})
    seed_finished(lua, "failed", {"f1": NOW - 90_000, "f2": NOW - 10})

    assert sweep(lua, NOW, (60_000, 1, 60_000, NO_LIMIT)) == [0, 0]

    assert lua.snapshot() == {
        t.completed: [("c3", NOW - 5)],
        t.failed: [("f2", NOW - 10)],
        t.sweep: str(NOW + 1000),
        **finished_keys("completed", {"c3": NOW - 5}),
        **finished_keys("failed", {"f2": NOW - 10}),
    }


def test_the_sweep_trims_cancelled_and_expired_jobs_by_the_failed_limits(lua: Lua) -> None:
    seed_finished(lua, "cancelled", {"x1": NOW - 90_000, "x2": NOW - 10})
    seed_finished(lua, "expired", {"e1": NOW - 90_000, "e2": NOW - 20, "e3": NOW - 10})

    assert sweep(lua, NOW, (NO_LIMIT, NO_LIMIT, 60_000, 1)) == [0, 0]

    assert lua.snapshot() == {
        t.cancelled: [("x2", NOW - 10)],
        t.expired: [("e3", NOW - 10)],
        t.sweep: str(NOW + 1000),
        **finished_keys("cancelled", {"x2": NOW - 10}),
        **finished_keys("expired", {"e3": NOW - 10}),
    }


def test_a_job_failed_by_the_sweep_counts_toward_the_failed_limit(lua: Lua) -> None:
    claim_one(lua, "stuck", ttl=1000)
    seed_finished(lua, "failed", {"f1": NOW - 300, "f2": NOW - 200})

    assert sweep(lua, NOW + 5000, (NO_LIMIT, NO_LIMIT, NO_LIMIT, 2), max_stalls=0) == [0, 1]

    snap = lua.snapshot()
    assert snap[t.failed] == [("f2", NOW - 200), ("stuck", NOW + 5000)]
    assert not lua.r.exists(t.job("f1"), t.logs("f1"))
    assert snap[t.job("stuck")]["state"] == "failed"


def test_a_sweep_that_lost_the_election_trims_nothing(lua: Lua) -> None:
    lua.r.set(t.sweep, NOW + 500)
    seed_finished(lua, "completed", {"c1": NOW - 90_000})
    before = lua.snapshot()
    assert sweep(lua, NOW, (0, 0, 0, 0)) == [-1, -1]
    assert lua.snapshot() == before
