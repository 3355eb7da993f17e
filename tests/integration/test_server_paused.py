"""A server that stops answering (kill -STOP) while a call is on the wire: the call fails with
our ServerError, and is never sent again, since the server may run it once it wakes up."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest
import redis
from servers import raw_client

from taskora_cli.engine.embedded import embedded_status
from taskora_cli.engine.engine import Engine
from taskora_cli.engine.records import NewJob
from taskora_cli.engine.wire import Wire
from taskora_cli.errors import ServerError

if TYPE_CHECKING:
    from conftest import RestartableValkey

NOW = 1_700_000_000_000
REPLY_TIMEOUT_S = 0.5
FAILURE_BOUND_S = 60.0
"""Not a timing assertion: a test that hangs past this is a failure, not a long run."""


@pytest.fixture
def paused(restartable_valkey: RestartableValkey) -> Iterator[int]:
    """The pid of the test's own server, set running again (SIGCONT) whatever happens."""
    pid = embedded_status(restartable_valkey.state_dir).pid
    assert pid is not None
    try:
        yield pid
    finally:
        os.kill(pid, signal.SIGCONT)


@pytest.fixture
async def engine(restartable_valkey: RestartableValkey) -> AsyncIterator[Engine]:
    engine = Engine(restartable_valkey.url, reply_timeout_s=REPLY_TIMEOUT_S)
    await engine.connect(NOW)
    try:
        yield engine
    finally:
        await engine.close()


def resumed_and_drained(url: str, pid: int) -> redis.Redis:
    """SIGCONT, then a round trip: every command the server had queued has run by its reply."""
    os.kill(pid, signal.SIGCONT)
    client = raw_client(url, decode_responses=True)
    client.ping()
    return client


async def test_a_collect_item_sent_to_a_paused_server_fails_and_is_pushed_once(
    restartable_valkey: RestartableValkey, engine: Engine, paused: int
) -> None:
    # loads the script first: the server must hold it to run the call after it wakes up
    await engine.flow.collect_push("sum", "warm-up", "0", "other", (60_000, 0, 0), NOW)
    os.kill(paused, signal.SIGSTOP)
    push = engine.flow.collect_push("sum", "flush-1", "1", "k", (60_000, 0, 0), NOW)
    with pytest.raises(ServerError):
        await asyncio.wait_for(push, FAILURE_BOUND_S)

    client = resumed_and_drained(restartable_valkey.url, paused)
    try:
        assert client.lrange(engine.keys("sum").collect_items("k"), 0, -1) == ["1"]
    finally:
        client.close()


async def test_a_dispatch_to_a_paused_server_fails_and_the_job_exists_once(
    restartable_valkey: RestartableValkey, engine: Engine, paused: int
) -> None:
    await engine.enqueue("echo", NewJob(id="warm-up", data='"x"'), NOW)  # loads the script
    os.kill(paused, signal.SIGSTOP)
    job = NewJob(id="j1", data='"x"')
    with pytest.raises(ServerError):
        await asyncio.wait_for(engine.enqueue("echo", job, NOW), FAILURE_BOUND_S)

    client = resumed_and_drained(restartable_valkey.url, paused)
    try:
        assert client.lrange(engine.keys("echo").wait, 0, -1).count("j1") == 1
    finally:
        client.close()


async def test_a_login_to_a_paused_server_fails_instead_of_waiting_for_ever(
    restartable_valkey: RestartableValkey, paused: int
) -> None:
    # The reply watchdog only watches a connection in use: the login needs its own bound.
    wire = Wire(f"{restartable_valkey.url}?password=pw", reply_timeout_s=REPLY_TIMEOUT_S)
    os.kill(paused, signal.SIGSTOP)
    try:
        with pytest.raises(ServerError):
            await asyncio.wait_for(wire.call("PING"), FAILURE_BOUND_S)
    finally:
        await wire.close()


async def test_a_read_from_a_paused_server_fails_with_server_error(
    engine: Engine, paused: int
) -> None:
    os.kill(paused, signal.SIGSTOP)
    with pytest.raises(ServerError):
        await asyncio.wait_for(engine.job("echo", "j1"), FAILURE_BOUND_S)
