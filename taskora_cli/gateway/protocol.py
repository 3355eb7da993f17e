"""The gateway's wire protocol: what a client may send, and the messages it gets back.

Pure functions, no I/O: the hub and the ASGI app do the talking. docs/gateway.md is the
reference for clients.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..remote_error import parse_remote_error

_OPTION_NAMES = {
    "id": "id",
    "priority": "priority",
    "delayUntil": "delay_until",
    "delay_until": "delay_until",
    "retryCount": "retry_count",
    "retry_count": "retry_count",
    "retryDelayMs": "retry_delay_ms",
    "retry_delay_ms": "retry_delay_ms",
    "attempts": "attempts",
    "repeat": "repeat",
}
"""Emit options a client may send, in the spec's camelCase or the Python API's snake_case."""


class ProtocolError(Exception):
    """A client message the gateway cannot act on; ``code`` names the kind for clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class EmitRequest:
    """One ``{"type": "emit", ...}`` message, checked."""

    event: str
    queue: str | None
    data: Any
    options: dict[str, Any]
    request_id: Any = None


def parse(text: str | bytes) -> EmitRequest:
    """The request in one client frame.

    Raises:
        ProtocolError: not JSON ("bad_json"), not an object or no known ``type``
            ("unknown_type"), or an emit with a bad field ("bad_request").
    """
    try:
        message = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("bad_json", f"a message must be a JSON object: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("bad_json", "a message must be a JSON object")
    kind = message.get("type")
    if kind != "emit":
        raise ProtocolError("unknown_type", f"unknown message type {kind!r}; send type 'emit'")
    event = message.get("event")
    if not isinstance(event, str) or not event:
        raise ProtocolError("bad_request", "emit needs an 'event' (a non-empty string)")
    queue = message.get("queue")
    if queue is not None and not isinstance(queue, str):
        raise ProtocolError("bad_request", "'queue' must be a string")
    return EmitRequest(
        event, queue, message.get("data"), _options(message.get("options")), message.get("id")
    )


def _options(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ProtocolError("bad_request", "'options' must be an object")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = _OPTION_NAMES.get(key)
        if name is None:
            known = ", ".join(sorted(k for k in _OPTION_NAMES if "_" not in k))
            raise ProtocolError("bad_request", f"unknown option {key!r}; the options are {known}")
        out[name] = _moment(value) if name == "delay_until" else value
    return out


def _moment(value: Any) -> datetime:
    """``delayUntil`` as an ISO 8601 string or ms since the epoch."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise ProtocolError("bad_request", f"delayUntil must be ISO 8601 or ms, got {value!r}")


def encode(message: dict[str, Any]) -> str:
    """One server message as the text frame sent."""
    return json.dumps(message, separators=(",", ":"), default=str)


def emitted(task_id: str, request_id: Any = None) -> str:
    """The reply to an emit: the job's id (``id`` echoes the request's, when it had one)."""
    message: dict[str, Any] = {"type": "emitted", "taskId": task_id}
    if request_id is not None:
        message["id"] = request_id
    return encode(message)


def error(code: str, message: str, request_id: Any = None) -> str:
    """An error about the client's last message (the connection stays open)."""
    out: dict[str, Any] = {"type": "error", "code": code, "error": message}
    if request_id is not None:
        out["id"] = request_id
    return encode(out)


def task_update(task_id: str, fields: dict[str, str]) -> str:
    """A progress entry of the job's stream as ``task_update``: the announced ``data``
    (``ctx.socket.update``; None for a plain ``ctx.progress``) and the progress."""
    return encode(
        {
            "type": "task_update",
            "taskId": task_id,
            "data": _json(fields.get("update")),
            "progress": _json(fields.get("progress")),
        }
    )


def task_retry(task_id: str, stored_error: str | None, retries_left: int) -> str:
    """A failed attempt that another follows."""
    parsed = parse_remote_error(stored_error) if stored_error else None
    return encode(
        {
            "type": "task_retry",
            "taskId": task_id,
            "error": parsed.message if parsed is not None else None,
            "errorType": parsed.type if parsed is not None else None,
            "retryCount": retries_left,
        }
    )


def task_finished(task_id: str, status: str) -> str:
    """The job has ended: ``completed``, ``failed``, ``cancelled``, ``expired`` or
    ``deleted``."""
    return encode({"type": "task_finished", "taskId": task_id, "status": status})


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
