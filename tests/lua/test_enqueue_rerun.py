"""An enqueue the server already ran, sent again after a dropped connection, reports what the
first run did: a job with the call's id, payload and dispatch time is the call's own job, so
the rerun counts as enqueued (not a clash, a duplicate of itself or throttled) and changes
nothing. Another job holding the id is still a clash."""

from __future__ import annotations

from harness import NOW, Lua, T

t = T
FLOW_KEYS = [t.wait, t.prioritized, t.delayed, t.events, t.marker]


def job_args(job_id: str, data: str = '"x"') -> list[object]:
    return [job_id, data, NOW, 0, 0, 0, ""]


def test_a_bulk_enqueue_run_twice_reports_every_job_enqueued_and_adds_none(lua: Lua) -> None:
    args: list[object] = [NOW, "b1", '"x"', 0, 0, 0, "", 0, "b2", '"y"', 0, NOW + 500, 0, "", 0]
    assert lua.run("enqueue_bulk", FLOW_KEYS, args) == [1, 1]
    assert lua.run("enqueue_bulk", FLOW_KEYS, args) == [1, 1]
    assert lua.r.lrange(t.wait, 0, -1) == ["b1"]
    assert lua.r.zrange(t.delayed, 0, -1) == ["b2"]


def test_a_bulk_enqueue_of_an_id_another_job_holds_is_still_refused(lua: Lua) -> None:
    lua.run("enqueue_bulk", FLOW_KEYS, [NOW, "b1", '"x"', 0, 0, 0, "", 0])
    later = [NOW + 1, "b1", '"x"', 0, 0, 0, "", 0]
    assert lua.run("enqueue_bulk", FLOW_KEYS, later) == [0]
    other = [NOW, "b1", '"other"', 0, 0, 0, "", 0]
    assert lua.run("enqueue_bulk", FLOW_KEYS, other) == [0]


def test_a_deduplicated_enqueue_run_twice_is_not_a_duplicate_of_itself(lua: Lua) -> None:
    keys = [*FLOW_KEYS, t.dedup("k")]
    args = [*job_args("d1"), "waiting delayed active"]
    assert lua.run("enqueue_deduplicated", keys, args) == [1, "d1"]
    assert lua.run("enqueue_deduplicated", keys, args) == [1, "d1"]
    assert lua.r.lrange(t.wait, 0, -1) == ["d1"]
    # a second dispatch under the key is a duplicate of the first
    second = [*job_args("d2"), "waiting delayed active"]
    assert lua.run("enqueue_deduplicated", keys, second) == [0, "d1"]


def test_a_throttled_enqueue_run_twice_when_it_filled_the_window_is_enqueued(lua: Lua) -> None:
    keys = [*FLOW_KEYS, t.throttle("k")]
    args = [*job_args("t1"), 1, 60_000]  # the first run takes the window's only place
    assert lua.run("enqueue_throttled", keys, args) == [1, 0]
    assert lua.run("enqueue_throttled", keys, args) == [1, 0]
    assert lua.r.zcard(t.throttle("k")) == 1
    assert lua.r.lrange(t.wait, 0, -1) == ["t1"]
    refused, _ = lua.run("enqueue_throttled", keys, [*job_args("t2"), 1, 60_000])
    assert refused == 0
