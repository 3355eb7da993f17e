"""How a handler's failure is stored on a job, and how readers turn it back into a value."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import Issue
from .serialization import decode_payload

if TYPE_CHECKING:
    from .serialization import Payloads


@dataclass(frozen=True)
class RemoteError:
    """How a handler failed, as the worker recorded it.

    Attributes:
        issues: for a validation or version failure, each bad field ("path: message");
            empty for any other error.
    """

    type: str | None
    message: str
    traceback: str | None
    issues: tuple[Issue, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``issues`` only when there are some."""
        out: dict[str, Any] = {
            "type": self.type,
            "message": self.message,
            "traceback": self.traceback,
        }
        if self.issues:
            out["issues"] = issues_as_dicts(self.issues)
        return out

    def summary(self) -> str:
        """``Type: message``, in one line."""
        return f"{self.type or 'Error'}: {self.message}"


def issues_as_dicts(issues: tuple[Issue, ...]) -> list[dict[str, str]]:
    """Issues in their stored form, ``[{"path", "message"}]``."""
    return [{"path": issue.path, "message": issue.message} for issue in issues]


def parse_issues(value: Any) -> tuple[Issue, ...]:
    """The ``issues`` of a stored error; entries that are not ``{"path", "message"}`` objects
    (written by something else) are left out rather than failing the whole read."""
    if not isinstance(value, list):
        return ()
    return tuple(
        Issue(str(entry.get("path") or ""), str(entry.get("message") or ""))
        for entry in value
        if isinstance(entry, dict) and ("path" in entry or "message" in entry)
    )


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
    trace = parsed.get("traceback")
    return RemoteError(
        parsed.get("type"),
        str(parsed.get("message", "")),
        trace if isinstance(trace, str) else None,
        parse_issues(parsed.get("issues")),
    )


def decode_stored(raw: str | None, payloads: Payloads | None = None) -> Any:
    """A stored payload or result, decoded whichever serializer wrote it (``payloads``: the
    app's, which also knows its custom serializers); one that cannot be decoded comes back
    as is (or as an ``Undecoded`` naming its serializer), never as an error."""
    if raw is None:
        return None
    return decode_payload(raw) if payloads is None else payloads.show(raw)
