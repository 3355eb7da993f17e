"""Masking configured field names in whatever the board sends, before it leaves the process."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MASK = "[redacted]"


class Redactor:
    """Masks the value of every mapping key named like one of ``keys`` (any case), at any
    depth of lists and mappings: job data, results, errors, log fields and progress alike."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self.keys = frozenset(key.casefold() for key in keys)

    def __bool__(self) -> bool:
        return bool(self.keys)

    def __call__(self, value: Any) -> Any:
        """``value`` with the configured keys' values masked (a copy; ``value`` is kept)."""
        if not self.keys:
            return value
        return self._walk(value)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: MASK if isinstance(key, str) and key.casefold() in self.keys
                else self._walk(item)
                for key, item in value.items()
            }  # fmt: skip
        if isinstance(value, list | tuple):
            return [self._walk(item) for item in value]
        return value

    def label(self, name: str, value: str) -> str:
        """A metric label's value, masked when the label is named like a configured key."""
        return MASK if name.casefold() in self.keys else value
