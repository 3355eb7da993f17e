"""The lean wire turns an error reply into the exception redis-py's own clients raise, with
redis.exceptions' public classes: what failures.py tells an outage from a refusal by."""

from __future__ import annotations

import pytest
from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    NoScriptError,
    ReadOnlyError,
    ResponseError,
)

from taskora_cli.engine.failures import is_outage
from taskora_cli.engine.wire import reply_error


@pytest.mark.parametrize(
    ("reply", "kind", "message"),
    [
        ("NOSCRIPT No matching script.", NoScriptError, "No matching script."),
        ("LOADING Valkey is loading", BusyLoadingError, "Valkey is loading"),
        ("READONLY You can't write", ReadOnlyError, "You can't write"),
        ("WRONGPASS invalid username-password pair", AuthenticationError, "invalid username-"),
        ("ERR invalid password", AuthenticationError, "invalid password"),
        ("ERR unknown command 'X'", ResponseError, "unknown command 'X'"),
        ("WRONGTYPE Operation against a key", ResponseError, "WRONGTYPE Operation"),
    ],
)
def test_an_error_reply_becomes_redis_pys_exception_for_it(
    reply: str, kind: type[Exception], message: str
) -> None:
    error = reply_error(reply)
    assert type(error) is kind
    assert str(error).startswith(message)


def test_a_loading_server_is_an_outage_and_a_refusal_is_not() -> None:
    assert is_outage(reply_error("LOADING Valkey is loading"))
    assert not is_outage(reply_error("WRONGTYPE Operation against a key"))
    assert not is_outage(reply_error("NOAUTH Authentication required."))
