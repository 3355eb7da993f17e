"""The lean wire turns an error reply into our own exception for its kind (wire_errors.py),
without redis-py: what failures.py tells an outage from a refusal by."""

from __future__ import annotations

import pytest

from taskora_cli.engine.failures import is_outage
from taskora_cli.engine.wire_errors import (
    ErrorReply,
    LoadingReply,
    LoginRefused,
    MovedRedirect,
    NoScriptReply,
    TooManyClients,
    reply_error,
)


@pytest.mark.parametrize(
    ("reply", "kind", "message"),
    [
        ("NOSCRIPT No matching script.", NoScriptReply, "No matching script."),
        ("LOADING Valkey is loading", LoadingReply, "Valkey is loading"),
        ("READONLY You can't write", ErrorReply, "READONLY You can't write"),
        ("WRONGPASS invalid username-password pair", LoginRefused, "invalid username-"),
        ("ERR invalid password", LoginRefused, "invalid password"),
        ("ERR max number of clients reached", TooManyClients, "max number of clients"),
        ("ERR unknown command 'X'", ErrorReply, "unknown command 'X'"),
        ("WRONGTYPE Operation against a key", ErrorReply, "WRONGTYPE Operation"),
    ],
)
def test_an_error_reply_becomes_our_exception_for_its_kind(
    reply: str, kind: type[Exception], message: str
) -> None:
    error = reply_error(reply)
    assert type(error) is kind
    assert str(error).startswith(message)


def test_a_moved_reply_names_the_slot_and_node() -> None:
    moved = reply_error("MOVED 3999 127.0.0.1:6381")
    assert isinstance(moved, MovedRedirect)
    assert (moved.slot_id, moved.host, moved.port) == (3999, "127.0.0.1", 6381)


def test_a_loading_server_is_an_outage_and_a_refusal_is_not() -> None:
    assert is_outage(reply_error("LOADING Valkey is loading"))
    assert is_outage(reply_error("ERR max number of clients reached"))
    assert not is_outage(reply_error("WRONGTYPE Operation against a key"))
    assert not is_outage(reply_error("NOAUTH Authentication required."))
