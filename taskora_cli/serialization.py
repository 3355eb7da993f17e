"""JSON in and out of the wire, with errors that say which value could not be encoded."""

from __future__ import annotations

import json
from typing import Any

from .errors import SerializationError

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_decoder = json.JSONDecoder()


def dumps(value: Any, *, what: str = "job data") -> str:
    """Encode ``value`` as compact JSON.

    Raises:
        SerializationError: the value holds something JSON cannot represent.
    """
    try:
        return _encoder.encode(value)
    except (TypeError, ValueError) as exc:
        raise SerializationError(
            f"{what} must be JSON-serialisable (dict, list, str, int, float, bool, None): {exc}"
        ) from exc


def loads(text: str | None) -> Any:
    """Decode JSON written by :func:`dumps` (None stays None)."""
    return None if text is None else _decoder.decode(text)
