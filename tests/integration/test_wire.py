"""The lean pipelined connection the engine sends scripts over (engine/wire.py)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from servers import raw_client

from taskora_cli.engine.engine import Engine
from taskora_cli.engine.records import Ack, NewJob
from taskora_cli.engine.resp import Target, pack, supports
from taskora_cli.engine.wire import Wire
from taskora_cli.errors import ServerError


def test_commands_are_packed_as_resp_bulk_strings() -> None:
    assert pack(("SET", "k", 12)) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n"
    # non-ASCII text is counted in bytes, not characters
    assert pack(("SET", "é", 1.5, b"\x00")) == (
        b"*4\r\n$3\r\nSET\r\n$2\r\n\xc3\xa9\r\n$3\r\n1.5\r\n$1\r\n\x00\r\n"
    )
    # a binary payload travels as str with lone surrogates (surrogateescape): its own bytes
    assert pack(("SET", "k", "\udc81é")) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n\x81\xc3\xa9\r\n"
    with pytest.raises(TypeError):
        pack(("SET", True))


def test_urls_name_the_socket_the_login_and_the_database() -> None:
    tcp = Target("redis://ann:s%40cret@example.com:6380/3")
    assert (tcp.host, tcp.port, tcp.path, tcp.db) == ("example.com", 6380, None, 3)
    assert tcp.login() == [("AUTH", "ann", "s@cret"), ("SELECT", 3)]
    unix = Target("unix:///run/valkey.sock?db=2&password=pw")
    assert (unix.path, unix.db) == ("/run/valkey.sock", 2)
    assert unix.login() == [("AUTH", "pw"), ("SELECT", 2)]
    assert Target("redis://localhost").login() == []
    assert supports("redis://h") and supports("unix:///s") and not supports("rediss://h")


async def test_many_calls_in_flight_get_their_own_replies(redis_url: str) -> None:
    wire = Wire(redis_url)
    try:
        replies = await asyncio.gather(*(wire.call("ECHO", f"m{i}") for i in range(300)))
        assert replies == [f"m{i}" for i in range(300)]
        with pytest.raises(ServerError, match="refused a command"):
            await wire.call("NOSUCHCOMMAND")
        assert await wire.call("PING") == "PONG"  # an error reply leaves the connection usable
    finally:
        await wire.close()


async def test_scripts_survive_script_flush(redis_url: str) -> None:
    engine = Engine(redis_url)
    try:
        await engine.connect(0)
        raw_client(redis_url).script_flush()
        assert await engine.enqueue("t", NewJob("a", "{}"), 1)
        assert [job.id for job in await engine.claim("t", "w", 5, 2, 30_000)] == ["a"]
    finally:
        await engine.close()


async def test_calls_ride_out_a_server_restart(restartable_valkey: Any) -> None:
    server = restartable_valkey
    engine = Engine(server.url)

    async def restart_soon() -> None:
        await asyncio.sleep(0.3)
        await asyncio.to_thread(server.start)

    try:
        await engine.connect(0)
        assert await engine.enqueue("t", NewJob("a", "{}"), 1)
        await asyncio.to_thread(server.stop)
        restarting = asyncio.ensure_future(restart_soon())
        assert await engine.enqueue("t", NewJob("b", "{}"), 2)  # waits for the server
        await restarting
        assert (await engine.counts("t"))["waiting"] == 2  # the AOF kept "a"
    finally:
        await engine.close()


async def test_a_password_is_sent_before_any_command(restartable_valkey: Any) -> None:
    url: str = restartable_valkey.url
    client = raw_client(url)
    client.config_set("requirepass", "pw")
    try:
        wire = Wire(url + "?password=pw")
        assert await wire.call("PING") == "PONG"
        await wire.close()
        anonymous = Wire(url)
        with pytest.raises(ServerError, match="refused the login"):
            await anonymous.call("SET", "k", "v")
        await anonymous.close()
    finally:
        raw_client(url, password="pw").config_set("requirepass", "")
        client.close()


async def test_a_cancelled_blocking_call_drops_its_connection(redis_url: str) -> None:
    wire = Wire(redis_url, blocking=True)
    try:
        waiting = asyncio.ensure_future(wire.call("BZPOPMIN", "marker", 5))
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        # the server forgot the block: a marker added now stays for the next waiter
        raw_client(redis_url).zadd("marker", {"0": 0})
        await asyncio.sleep(0.05)
        assert await wire.call("BZPOPMIN", "marker", 1) == ["marker", "0", "0"]
    finally:
        await wire.close()


async def test_the_redis_py_path_runs_the_same_scripts(redis_url: str) -> None:
    # what rediss:// URLs use: the scripts over redis-py instead of the lean connection
    engine = Engine(redis_url)
    engine.runner.wire = None
    try:
        await engine.connect(0)
        assert await engine.enqueue_bulk("t", [NewJob("a", "{}"), NewJob("b", "{}")], 1)
        claimed = await engine.claim("t", "w", 1, 2, 30_000)
        acked, more = await engine.ack_and_claim(
            "t", [Ack(claimed[0].id, claimed[0].token, "1")], "w", 1, 3, 30_000
        )
        assert (acked, [job.id for job in more]) == ([True], ["b"])
    finally:
        await engine.close()


async def test_a_server_that_never_answered_is_reported_at_once(tmp_path: Path) -> None:
    wire = Wire(f"unix://{tmp_path}/nothing-here.sock")
    began = time.monotonic()
    with pytest.raises(ServerError, match="cannot reach"):
        await wire.call("PING")
    assert time.monotonic() - began < 5  # not the ~16 s a restart is given
    await wire.close()


async def test_an_enqueue_sent_again_after_a_drop_counts_its_own_job_as_enqueued(
    redis_url: str,
) -> None:
    # A dropped connection makes the wire send a call again, though the server may have run
    # it: the second run then finds the job in place. Same id, payload and time: ours.
    engine = Engine(redis_url)
    now = int(time.time() * 1000)
    await engine.connect(now)
    try:
        job = NewJob("once", '{"n": 1}')
        assert await engine.enqueue("t", job, now) is True
        assert await engine.enqueue("t", job, now) is True  # the re-sent call
        assert await engine.enqueue("t", job._replace(data='{"n": 2}'), now) is False
        assert await engine.enqueue("t", job, now + 1) is False  # another dispatch, same id
        assert (await engine.counts("t"))["waiting"] == 1  # one job, queued once
    finally:
        await engine.close()
