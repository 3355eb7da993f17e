"""The lean connection (engine/wire.py) behind a proxy that goes half-open: a call whose
connection went silent is not left to its reply timeout once the server answers again, and a
server that is merely busy is not mistaken for a dead connection."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from proxy import FaultProxy

from taskora_cli.engine.failures import BLOCK_MARGIN_S
from taskora_cli.engine.wire import Wire
from taskora_cli.errors import ServerError

pytestmark = pytest.mark.fault

FOREVER_S = 3600.0
"""A reply timeout that never comes within the test: only noticing the silence ends a call."""

DEADLINE_S = 30.0
"""How long a test waits for a call to end before it calls it hung."""


async def ended(call: Any) -> Any:
    """The call's reply, or the ServerError it ended with (a call resent or not, both say the
    dead connection was let go); a call still waiting after DEADLINE_S fails the test."""
    try:
        return await asyncio.wait_for(call, DEADLINE_S)
    except ServerError as exc:
        return exc


async def cut_then_heal(proxy: FaultProxy, sent: asyncio.Future[Any]) -> None:
    await asyncio.sleep(0.2)  # the call is on the wire
    proxy.half_open()
    await asyncio.sleep(1.0)  # the outage itself, not a wait for a condition
    assert not sent.done()
    proxy.heal()


async def test_a_call_on_a_half_open_connection_ends_once_the_server_answers_again(
    redis_url: str, proxy: FaultProxy
) -> None:
    wire = Wire(proxy.url)
    try:
        assert await wire.call("PING") == "PONG"
        proxy.half_open()
        sent = asyncio.ensure_future(wire.call("PING", reply_timeout=FOREVER_S))
        await asyncio.sleep(1.0)  # the outage itself, not a wait for a condition
        assert not sent.done()
        proxy.heal()
        await ended(sent)
        assert await wire.call("PING") == "PONG"  # on a fresh connection
    finally:
        await wire.close()


async def test_a_blocking_pop_on_a_half_open_connection_is_not_waited_again(
    redis_url: str, proxy: FaultProxy
) -> None:
    """The dead connection's pop may take the marker it waits for (the server still serves it;
    the reply goes nowhere): the caller must hear of the failure and go and look, not block
    again on a fresh connection for a marker that is gone."""
    wire = Wire(proxy.url, blocking=True)
    other = Wire(redis_url)
    try:
        await other.call("DEL", "half-open:marker")
        block_s = 3.0
        sent = asyncio.ensure_future(
            wire.call(
                "BZPOPMIN", "half-open:marker", block_s, reply_timeout=block_s + BLOCK_MARGIN_S
            )
        )
        await cut_then_heal(proxy, sent)
        await other.call("ZADD", "half-open:marker", 0, "work")  # popped by the dead connection
        outcome = await ended(sent)
        assert isinstance(outcome, ServerError), outcome
        assert await other.call("EXISTS", "half-open:marker") == 0
    finally:
        await wire.close()
        await other.close()


async def test_a_server_busy_in_a_long_script_is_waited_for(
    redis_url: str, proxy: FaultProxy
) -> None:
    """Silent for seconds, but not dead: the server answers nobody meanwhile, so the probe
    hears nothing (or BUSY, past the server's busy-reply threshold) and leaves the connection
    alone; the reply comes on it, and the script ran once (a dropped connection would have
    sent it again, or failed the call)."""
    wire = Wire(proxy.url)
    try:
        await wire.call("DEL", "half-open:runs")
        connections, kept = proxy.accepted, wire._proto  # noqa: SLF001 - the connection itself is what is checked
        busy = "redis.call('INCR', KEYS[1]) local t = redis.call('TIME') " + (
            "local s = t[1] * 1e6 + t[2] "
            "repeat t = redis.call('TIME') until t[1] * 1e6 + t[2] - s > 3e6 return 'done'"
        )
        sent = wire.call("EVAL", busy, 1, "half-open:runs", reply_timeout=FOREVER_S)
        assert await ended(sent) == "done"
        assert proxy.accepted > connections  # it was probed
        assert wire._proto is kept  # noqa: SLF001 - kept, not dropped
        assert await wire.call("GET", "half-open:runs") == "1"
    finally:
        await wire.close()


async def test_a_server_paused_for_writes_is_waited_for(redis_url: str, proxy: FaultProxy) -> None:
    """CLIENT PAUSE WRITE (a failover's first step) holds a write for seconds while the server
    still answers reads (PING): the probe (a script, held too) must not take that for a dead
    connection and drop it (the write would fail, or be sent again)."""
    wire = Wire(proxy.url)
    admin = Wire(redis_url)
    try:
        await wire.call("DEL", "half-open:runs")
        connections, kept = proxy.accepted, wire._proto  # noqa: SLF001 - the connection itself is what is checked
        await admin.call("CLIENT", "PAUSE", 3000, "WRITE")
        assert await ended(wire.call("INCR", "half-open:runs", reply_timeout=FOREVER_S)) == 1
        assert proxy.accepted > connections  # it was probed
        assert wire._proto is kept  # noqa: SLF001 - kept, not dropped
        assert await wire.call("GET", "half-open:runs") == "1"
    finally:
        await admin.call("CLIENT", "UNPAUSE")
        await wire.close()
        await admin.close()
