"""wire_rewrite_jobs: job hashes of wire formats 2 and 3 become this code's (format 4), once;
the rest of each hash stays as it was."""

from __future__ import annotations

from harness import NOW, Lua
from harness import T as t

from taskora_cli.engine.records import JobRecord

PAYLOAD = '{"pad":"' + "é" * 60 + '"}'  # 131 bytes: three pieces in format 3


def format_3_pieces(data: str) -> dict[str, str]:
    raw, pieces, start = data.encode(), {}, 0
    n = 0
    while start < len(raw):
        end = min(start + 63, len(raw))
        while end < len(raw) and raw[end] & 0xC0 == 0x80:
            end -= 1
        n += 1
        pieces["data" if n == 1 else f"d{n}"] = raw[start:end].decode()
        start = end
    return pieces


def test_format_3_jobs_are_rewritten_field_by_field_and_a_waiting_one_loses_its_state(
    lua: Lua,
) -> None:
    waiting = {"state": "waiting", "ts": str(NOW), **format_3_pieces(PAYLOAD), "prio": "2"}
    done = {"state": "completed", "ts": str(NOW), "data": "{}", "result": "7", "attempt": "1"}
    paused = {"state": "paused", "ts": str(NOW), "data": "{}", "paused_from": "waiting"}
    lua.r.hset(t.job("w"), mapping=waiting)
    lua.r.hset(t.job("c"), mapping=done)
    lua.r.hset(t.job("p"), mapping=paused)
    assert len(format_3_pieces(PAYLOAD)) == 3

    assert lua.run("wire_rewrite_jobs", [t.tag], ["w", "c", "p", "gone"]) == 3

    snap = lua.snapshot()
    assert snap[t.job("w")] == {"t": str(NOW), "prio": "2", **{
        str(n): piece for n, piece in enumerate(format_3_pieces(PAYLOAD).values(), start=1)
    }}  # fmt: skip
    assert snap[t.job("c")] == {
        "state": "completed", "t": str(NOW), "1": "{}", "result": "7", "attempt": "1",
    }  # fmt: skip
    assert snap[t.job("p")] == {
        "state": "paused", "t": str(NOW), "1": "{}", "paused_from": "waiting",
    }  # fmt: skip
    assert t.job("gone") not in snap
    record = JobRecord.from_hash(t.name, "w", snap[t.job("w")])
    assert (record.state, record.data, record.dispatched_at_ms) == ("waiting", PAYLOAD, NOW)

    assert lua.run("wire_rewrite_jobs", [t.tag], ["w", "c", "p"]) == 0  # once only
    assert lua.snapshot() == snap


def test_a_format_2_payload_stored_whole_becomes_a_payload_of_one_piece(lua: Lua) -> None:
    lua.r.hset(t.job("a"), mapping={"state": "waiting", "ts": str(NOW), "data": PAYLOAD})
    assert lua.run("wire_rewrite_jobs", [t.tag], ["a"]) == 1
    assert lua.r.hgetall(t.job("a")) == {"t": str(NOW), "1": PAYLOAD}
    claimed = lua.run(
        "claim",
        [t.wait, t.prioritized, t.delayed, t.active, t.events, t.marker, t.expired],
        [NOW, 30_000, "w1", 1, 100],
    )
    assert claimed == []  # not in the line: the rewrite touches the hash only
    lua.r.lpush(t.wait, "a")
    claimed = lua.run(
        "claim",
        [t.wait, t.prioritized, t.delayed, t.active, t.events, t.marker, t.expired],
        [NOW, 30_000, "w1", 1, 100],
    )
    assert claimed[0] == "a" and claimed[3] == PAYLOAD and claimed[4] == str(NOW)


def test_the_fence_raises_min_compat_only_for_a_layout_this_code_takes_over(lua: Lua) -> None:
    meta = "taskora:{_global}:meta"
    fence = [4, 2]  # this code's min_compat, the oldest layout it takes over
    assert lua.run("wire_fence", [meta], fence) == ""  # no record: nothing to take over
    for stored, fenced in ((3, 3), (2, 2), (1, ""), (4, ""), (99, "")):
        lua.r.hset(meta, mapping={"wire_version": stored, "min_compat": stored})
        assert lua.run("wire_fence", [meta], fence) == fenced
        assert lua.r.hget(meta, "min_compat") == str(4 if fenced else stored)
    lua.r.hset(meta, mapping={"wire_version": 3, "min_compat": 4})  # stopped half-way
    assert lua.run("wire_fence", [meta], fence) == 3
