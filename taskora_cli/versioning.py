"""Payload versioning: which job versions a task can run, and the migrations that bring old
payloads up to date.

A task has a ``version`` (the payload shape it dispatches and runs, default 1) and a ``since``
(the oldest version it still accepts, default 1). Every job carries the version it was
dispatched at (field ``v`` of its hash; absent means 1). A worker asks :meth:`Versioning.verdict`
before running a job: newer jobs go back for a newer worker, jobs older than ``since`` fail for
good, the rest run, after :meth:`Versioning.upgrade` applied the migrations from the job's
version up to the task's.

Migrations come in two forms:

* a dict ``{2: v1_to_v2, 3: v2_to_v3}``: the key is the version a function *produces*. It may
  be sparse: a step with no entry (an additive change, filled in by the schema's defaults)
  passes the data through unchanged;
* a list ``[v1_to_v2, v2_to_v3]``: one function per step, in order, starting at ``since``;
  ``version`` is then ``since + len(list)`` (give it only to double-check).

Migrations are plain (sync) functions ``data -> data`` of the decoded payload, run before
validation; they should not do I/O, so ``async def`` migrations are refused.

Kept free of the app, the task and the engine: the task builds one with
:meth:`Versioning.build`, the worker and the inspector only read it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

from .empty_mapping import EMPTY
from .errors import UsageError

Migration = Callable[[Any], Any]

MigrateOption = Mapping[int, Migration] | Sequence[Migration] | None
"""``{produced_version: fn}`` or a list of fns from ``since`` on."""
"""One step: takes the payload at version n - 1, returns it at version n."""

Verdict = Literal["run", "too_new", "too_old"]
"""What a worker does with a job: run it (after :meth:`Versioning.upgrade`), hand it back for
a newer worker ("too_new"), or fail it for good ("too_old": older than ``since``)."""

VERSION_FIELD = "v"
"""The job hash field holding the payload version; written only when it is not 1."""

DEFAULT_VERSION = 1
"""The version of a job without the field, and of a task that declares none."""


class Versioning(NamedTuple):
    """A task's payload version, the oldest it accepts, and the steps in between.

    Build it with :meth:`build`, which checks the declaration. ``steps`` maps a version to
    the function producing it from the one before; versions without an entry pass through.
    """

    version: int = DEFAULT_VERSION
    since: int = DEFAULT_VERSION
    steps: Mapping[int, Migration] = EMPTY

    @classmethod
    def build(
        cls,
        version: int | None = None,
        since: int | None = None,
        migrate: Mapping[int, Migration] | Sequence[Migration] | None = None,
    ) -> Versioning:
        """Check a task's ``version``/``since``/``migrate`` and build its versioning.

        Args:
            version: the payload version the task dispatches and runs (default 1, or
                ``since + len(migrate)`` when ``migrate`` is a list).
            since: the oldest job version it still runs (default 1).
            migrate: the steps, as ``{produced_version: fn}`` or a list of fns from ``since``.

        Raises:
            UsageError: the declaration is inconsistent; the message says how to fix it.
        """
        since = DEFAULT_VERSION if since is None else since
        _check_int("since", since)
        if migrate is None or isinstance(migrate, Mapping):
            version = DEFAULT_VERSION if version is None else version
            steps = dict(migrate or {})
        elif isinstance(migrate, Sequence) and not isinstance(migrate, str | bytes):
            derived = since + len(migrate)
            if version is not None and version != derived:
                raise UsageError(
                    f"version={version} does not match since={since} plus {len(migrate)} "
                    f"migrations (= {derived}): a list of migrations sets the version itself, "
                    f"so drop version= or fix since="
                )
            version = derived
            steps = {since + 1 + i: fn for i, fn in enumerate(migrate)}
        else:
            raise UsageError(
                f"migrate= must be a dict {{version: fn}} or a list of fns, "
                f"got {type(migrate).__name__}"
            )
        _check_int("version", version)
        if since > version:
            raise UsageError(
                f"since={since} is newer than version={version}: since is the oldest version "
                f"still accepted, so it must be <= version"
            )
        for produced, fn in steps.items():
            _check_step(produced, fn, since, version)
        return cls(version, since, dict(sorted(steps.items())))

    def verdict(self, job_version: int) -> Verdict:
        """What a worker of this version does with a job dispatched at ``job_version``."""
        if job_version > self.version:
            return "too_new"
        if job_version < self.since:
            return "too_old"
        return "run"

    def upgrade(self, data: Any, job_version: int) -> Any:
        """Run the migrations from ``job_version`` up to :attr:`version`, in order.

        Call it only for a job whose :meth:`verdict` is "run"; a job at the current version
        comes back as given.
        """
        for produced, fn in self.steps.items():
            if produced > job_version:
                data = fn(data)
        return data

    def stamp(self) -> dict[str, int]:
        """The hash fields a dispatched job carries (merge into ``NewJob.extra``): the
        version, or nothing at version 1 so default jobs cost no extra bytes."""
        return {} if self.version == DEFAULT_VERSION else {VERSION_FIELD: self.version}


DEFAULT_VERSIONING = Versioning()
"""Version 1, no migrations: every task that declares nothing."""


def raisable_since(counts: Mapping[int, int], since: int, version: int) -> int:
    """The highest ``since`` that strands no job: the oldest version any job still has
    (``counts`` maps version -> how many jobs), never below ``since`` nor above ``version``.

    ``since`` can be raised when the result is greater than the current ``since``; with no
    jobs at all it is ``version``. Versions newer than ``version`` (jobs for a newer worker)
    do not hold it back.
    """
    present = [v for v, n in counts.items() if n > 0 and v <= version]
    return max(since, min(present, default=version))


def job_version(raw: str | bytes | int | None) -> int:
    """The version stored in a job's ``v`` field (absent: 1)."""
    return DEFAULT_VERSION if raw is None else int(raw)


def _check_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise UsageError(f"{name}= must be an int >= 1, got {value!r}")
    if value < 1:
        raise UsageError(f"{name}= must be >= 1 (versions start at 1), got {value}")


def _check_step(produced: object, fn: object, since: int, version: int) -> None:
    if not isinstance(produced, int) or isinstance(produced, bool):
        raise UsageError(
            f"migrate= keys are the version each function produces (ints), got {produced!r}"
        )
    if produced <= since:
        raise UsageError(
            f"migration {produced} produces version {produced}, but since={since} already "
            f"refuses jobs older than {since}, so it can never run: remove it"
        )
    if produced > version:
        raise UsageError(
            f"migration {produced} produces version {produced}, newer than version={version}: "
            f"raise version= to {produced} or remove it"
        )
    if not callable(fn):
        raise UsageError(f"migration {produced} must be a function data -> data, got {fn!r}")
    if inspect.iscoroutinefunction(fn):
        raise UsageError(
            f"migration {produced} is async: migrations are plain functions data -> data "
            f"(make it a def; do I/O in the handler)"
        )
