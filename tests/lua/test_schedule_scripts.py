"""The scheduler scripts, table-driven: seed, run with a fixed now_ms, read back every key."""

from __future__ import annotations

from harness import NOW, Lua

from taskora_cli.engine import keys as k

LEASE, DUE = k.scheduler_lease_key(""), k.schedule_due_key("")
NAMES, S = k.schedule_names_key(""), k.schedule_key("", "beat")


def test_the_lease_goes_to_the_first_taker_and_to_another_only_once_it_ran_out(lua: Lua) -> None:
    lua.r.zadd(DUE, {"beat": NOW - 1, "later": NOW + 1})
    tick = [LEASE, DUE]
    assert lua.run("scheduler_tick", tick, ["a", NOW, 30_000, 10]) == [1, "beat"]
    assert lua.run("scheduler_tick", tick, ["b", NOW + 29_999, 30_000, 10]) == [0, "a"]
    renewed = lua.run("scheduler_tick", tick, ["a", NOW + 20_000, 30_000, 10])
    assert renewed == [1, "beat", "later"]
    assert lua.run("scheduler_tick", tick, ["b", NOW + 49_999, 30_000, 10]) == [0, "a"]
    assert lua.run("scheduler_tick", tick, ["b", NOW + 50_000, 30_000, 10]) == [1, "beat", "later"]
    assert lua.run("scheduler_release", [LEASE], ["a"]) == 0  # not the owner any more
    assert lua.snapshot()[LEASE] == {"owner": "b", "until": str(NOW + 80_000)}
    assert lua.run("scheduler_release", [LEASE], ["b"]) == 1
    assert LEASE not in lua.snapshot()


def test_registering_again_keeps_state_and_only_a_new_timing_moves_the_next_run(lua: Lua) -> None:
    keys = [S, DUE, NAMES]
    assert lua.run("schedule_register", keys, ["beat", "D1", "every 1000", NOW + 1000, NOW]) == (
        "created"
    )
    lua.r.hset(S, mapping={"last_job": "beat@1", "paused": NOW})
    lua.r.zrem(DUE, "beat")
    assert lua.run("schedule_register", keys, ["beat", "D1", "every 1000", NOW + 9, NOW]) == (
        "unchanged"
    )
    assert lua.run("schedule_register", keys, ["beat", "D2", "every 1000", NOW + 9, NOW]) == (
        "updated"
    )
    assert lua.run("schedule_register", keys, ["beat", "D3", "every 5", NOW + 5, NOW]) == "retimed"
    assert lua.snapshot() == {
        NAMES: ["beat"],
        S: {
            "def": "D3",
            "timing": "every 5",
            "rev": "3",
            "next": str(NOW + 5),
            "created": str(NOW),
            "last_job": "beat@1",
            "paused": str(NOW),
        },
    }  # still paused, so still not due


def test_a_claim_is_a_compare_and_set_and_the_fire_stays_due_until_settled(lua: Lua) -> None:
    lua.run("schedule_register", [S, DUE, NAMES], ["beat", "D", "every 10", NOW, NOW - 10])
    claim = [S, DUE]
    args = ["beat", "1", NOW, NOW, NOW + 10, f"beat@{NOW}", "t", "P", 2, NOW + 3]
    assert lua.run("schedule_claim", claim, args) == 1
    assert lua.run("schedule_claim", claim, args) == 0  # the same fire again: stale
    state = lua.snapshot()
    assert state[DUE] == [("beat", NOW)]
    assert state[S]["pending_id"] == f"beat@{NOW}" and state[S]["next"] == str(NOW + 10)
    assert (state[S]["skipped"], state[S]["last_skipped"]) == ("2", str(NOW + 3))
    assert lua.run("schedule_settle", claim, ["beat", "other"]) == 0
    assert lua.run("schedule_settle", claim, ["beat", f"beat@{NOW}"]) == 1
    state = lua.snapshot()
    assert state[DUE] == [("beat", NOW + 10)]
    assert "pending_id" not in state[S] and "pending" not in state[S]


def test_skip_pause_resume_trigger_and_remove(lua: Lua) -> None:
    lua.run("schedule_register", [S, DUE, NAMES], ["beat", "D", "every 10", NOW, NOW - 10])
    keys = [S, DUE]
    assert lua.run("schedule_skip", keys, ["beat", "1", NOW - 1, NOW + 10, 1, NOW]) == 0  # stale
    assert lua.run("schedule_skip", keys, ["beat", "1", NOW, NOW + 10, 3, NOW + 1]) == 1
    assert lua.run("schedule_pause", keys, ["beat", NOW + 2]) == 1
    assert lua.run("schedule_pause", [k.schedule_key("", "nope"), DUE], ["nope", NOW]) == 0
    assert lua.run("schedule_triggered", [S], ["t1", "mail", NOW + 3]) == 1
    assert lua.snapshot() == {
        NAMES: ["beat"],
        S: {
            "def": "D",
            "timing": "every 10",
            "rev": "1",
            "next": str(NOW + 10),
            "created": str(NOW - 10),
            "skipped": "3",
            "last_skipped": str(NOW + 1),
            "paused": str(NOW + 2),
            "last_run": str(NOW + 3),
            "last_fired": str(NOW + 3),
            "last_job": "t1",
            "last_task": "mail",
        },
    }  # paused: not due
    assert lua.run("schedule_resume", keys, ["beat", NOW + 9, NOW + 20]) == 0  # changed meanwhile
    assert lua.run("schedule_resume", keys, ["beat", NOW + 10, NOW + 20]) == 1
    assert lua.run("schedule_resume", keys, ["beat", NOW + 20, NOW + 30]) == 2  # not paused
    state = lua.snapshot()
    assert (state[DUE], state[S]["next"], "paused" in state[S]) == (
        [("beat", NOW + 20)],
        str(NOW + 20),
        False,
    )
    assert lua.run("schedule_remove", [S, DUE, NAMES], ["beat"]) == 1
    assert lua.run("schedule_remove", [S, DUE, NAMES], ["beat"]) == 0
    assert lua.snapshot() == {}
