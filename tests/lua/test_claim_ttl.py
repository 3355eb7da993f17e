"""TTL in the claim path: a job past its expiry is never claimed; it ends expired."""

from __future__ import annotations

from harness import NOW, Lua
from harness import T as t

CLAIM_KEYS = [t.wait, t.prioritized, t.delayed, t.active, t.events, t.marker, t.expired]


def test_claim_expires_a_job_past_its_ttl_and_claims_the_next(lua: Lua) -> None:
    enqueue = [t.wait, t.prioritized, t.events, t.marker]
    lua.run("enqueue", enqueue, ["old", "{}", NOW, 0, NOW + 1000, ""])
    lua.run("enqueue", enqueue, ["new", "{}", NOW, 0, NOW + 5000, ""])
    lua.r.delete(t.events)
    claimed = lua.run("claim", CLAIM_KEYS, [NOW + 1000, 30_000, "w1", 2, 100])
    token = f"w1:1:{NOW + 1000}"
    assert claimed == ["new", token, 1, "{}", str(NOW), 1]
    assert lua.snapshot() == {
        t.active: [("new", NOW + 31_000)],
        t.events: [
            {"event": "active", "job": "new", "attempt": "1"},
            {"event": "expired", "job": "old"},
        ],
        t.expired: [("old", NOW + 1000)],
        t.job("old"): {
            "state": "expired", "t": str(NOW), "1": "{}", "exp": str(NOW + 1000),
            "finished": str(NOW + 1000),
        },
        t.job("new"): {
            "state": "active", "t": str(NOW), "1": "{}",  # the expiry is gone once started
            "attempt": "1", "started": str(NOW + 1000), "lock": token,
        },
    }  # fmt: skip


def test_enqueue_bulk_stores_each_jobs_expiry(lua: Lua) -> None:
    keys = [t.wait, t.prioritized, t.delayed, t.events, t.marker]
    args = [NOW, "a", "{}", 0, 0, NOW + 60_000, "", 0, "b", "{}", 0, NOW + 10, 0, "", 0]
    assert lua.run("enqueue_bulk", keys, args) == [1, 1]
    assert lua.r.hget(t.job("a"), "exp") == str(NOW + 60_000)
    assert lua.r.hget(t.job("b"), "exp") is None


def test_enqueue_delayed_stores_the_expiry(lua: Lua) -> None:
    keys = [t.delayed, t.events, t.marker]
    lua.run("enqueue_delayed", keys, ["d", "{}", NOW, 0, NOW + 5000, NOW + 2000, ""])
    assert lua.r.hget(t.job("d"), "exp") == str(NOW + 2000)
