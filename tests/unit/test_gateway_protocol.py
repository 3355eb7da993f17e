"""The gateway's message parsing and a connection's bounded queue, without a server."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from taskora_cli.gateway import protocol
from taskora_cli.gateway.hub import Connection


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{oops", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('{"type": "subscribe"}', "unknown_type"),
        ('{"type": "emit"}', "bad_request"),
        ('{"type": "emit", "event": "e", "options": {"debounce": 5}}', "bad_request"),
        ('{"type": "emit", "event": "e", "options": {"delayUntil": "soon"}}', "bad_request"),
    ],
)
def test_bad_messages_name_what_is_wrong(frame: str, code: str) -> None:
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.parse(frame)
    assert caught.value.code == code


def test_an_emit_takes_camel_or_snake_case_options() -> None:
    request = protocol.parse(
        json.dumps({
            "type": "emit", "event": "e", "queue": "q", "data": [1], "id": "r1",
            "options": {"retryCount": 2, "retry_delay_ms": 5, "delayUntil": 86_400_000},
        })
    )  # fmt: skip
    assert (request.event, request.queue, request.data, request.request_id) == ("e", "q", [1], "r1")
    assert request.options == {
        "retry_count": 2,
        "retry_delay_ms": 5,
        "delay_until": datetime(1970, 1, 2, tzinfo=UTC),
    }


async def test_a_client_that_falls_behind_is_closed_not_buffered_forever() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    conn = Connection(send, broadcast=True, limit=3)
    for n in range(5):
        conn.push(f"m{n}")
    assert conn.closed
    await conn.pump()  # what was queued is dropped: the client is told why, then closed
    assert sent == [
        {"type": "websocket.close", "code": 1013, "reason": "too slow: over 3 messages waiting"}
    ]
