"""``EMPTY``: the default of the NamedTuple fields that hold a mapping (``config.worker.queues``,
``Versioning.steps``, ``JobRecord.extra``, ``Timeline.out_of_range``).

A NamedTuple has no per-instance default factory: a shared ``{}`` changed through one record
would show in every other, and a ``MappingProxyType`` can be neither pickled nor deep-copied
(nor, then, can the config holding it). This one is immutable and pickles as itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NoReturn


class _Empty(Mapping[Any, Any]):
    __slots__ = ()

    def __getitem__(self, key: object) -> NoReturn:
        raise KeyError(key)

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "{}"

    def __reduce__(self) -> str:
        return "EMPTY"  # pickle and copy find the one instance by its name in this module


EMPTY: Mapping[Any, Any] = _Empty()
"""The empty mapping (equal to ``{}``)."""
