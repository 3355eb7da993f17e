"""The legacy managers' leader lease scripts, with a fixed now_ms."""

from __future__ import annotations

from harness import NOW, Lua

from taskora_cli.engine import keys as k

LEASE = k.leader_lease_key("", "taskmanager")


def test_the_lease_goes_to_the_first_taker_and_to_another_once_it_ran_out(lua: Lua) -> None:
    assert lua.run("leader_keep", [LEASE], ["a", NOW, 30_000]) == [1, "a", NOW + 30_000]
    assert lua.run("leader_keep", [LEASE], ["b", NOW + 29_999, 30_000]) == [0, "a", NOW + 30_000]
    assert lua.run("leader_keep", [LEASE], ["a", NOW + 20_000, 30_000])[0] == 1  # kept
    assert lua.run("leader_keep", [LEASE], ["b", NOW + 50_000, 30_000]) == [1, "b", NOW + 80_000]
    assert lua.run("leader_release", [LEASE], ["a"]) == 0  # not the owner any more
    assert lua.snapshot()[LEASE] == {"owner": "b", "until": str(NOW + 80_000)}
    assert lua.run("leader_release", [LEASE], ["b"]) == 1
    assert LEASE not in lua.snapshot()
    assert lua.run("leader_keep", [LEASE], ["a", NOW + 50_001, 30_000])[0] == 1  # free: taken
