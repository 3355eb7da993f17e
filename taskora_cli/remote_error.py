"""How a handler's failure is stored on a job, and how readers turn it back into a value."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .serialization import loads


@dataclass(frozen=True)
class RemoteError:
    """How a handler failed, as the worker recorded it."""

    type: str | None
    message: str
    traceback: str | None


def parse_remote_error(raw: str | None) -> RemoteError | None:
    """The error a worker stored; text that is not ours comes back whole as the message."""
    if not raw:
        return None
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        return RemoteError(None, raw, None)
    return RemoteError(parsed.get("type"), str(parsed.get("message", "")), parsed.get("traceback"))


def decode_stored(raw: str | None) -> Any:
    """A stored payload or result, decoded; one written by something else comes back as is."""
    if raw is None:
        return None
    try:
        return loads(raw)
    except Exception:
        return raw
