"""Read the per-task event streams: the recent past, and new entries as they come.

Each stream entry records one transition of one or more jobs (see lua/lib/common.lua): ``job``
holds their ids separated by spaces and every other field but ``event`` holds per-job values,
likewise. ``expand`` turns an entry into one RawEvent per job. Readers are plain XREADs, not
a consumer group: every process that reads sees every event (fan-out).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ServerError
from .cluster import read_streams
from .connection import open_client
from .failures import kinds

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .runner import Runner

READ_COUNT = 500
"""Entries fetched per stream per read."""


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One job's part of a stream entry."""

    task: str
    entry_id: str
    event: str
    job_id: str
    fields: dict[str, str]

    @property
    def at_ms(self) -> int:
        """When it was written: the millisecond part of the entry id."""
        return int(self.entry_id.split("-", 1)[0])


def expand(task: str, entry_id: str, fields: Mapping[str, str]) -> list[RawEvent]:
    """One RawEvent per job of a stream entry. Only an entry of several jobs holds per-job
    values separated by spaces; one job's values are whole (a reason may hold a space)."""
    ids = fields.get("job", "").split(" ")
    many = len(ids) > 1
    extra = {
        name: value.split(" ") if many else [value]
        for name, value in fields.items()
        if name not in ("event", "job")
    }
    event = fields.get("event", "?")
    out = []
    for i, job_id in enumerate(ids):
        values = {name: split[i] if i < len(split) else "" for name, split in extra.items()}
        out.append(RawEvent(task, entry_id, event, job_id, values))
    return out


class Events:
    """The per-task event streams: the recent past, job details, and a live follower."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    async def recent(self, tasks: Iterable[str], count: int) -> list[RawEvent]:
        """The last ``count`` stream entries of each task, expanded, oldest first overall."""
        names = list(tasks)
        async with self.runner.client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.xrevrange(self.runner.keys(name).events, count=count)
            pages: list[list[tuple[str, dict[str, str]]]] = await pipe.execute()
        events = [
            raw
            for name, page in zip(names, pages, strict=True)
            for entry_id, fields in page
            for raw in expand(name, entry_id, fields)
        ]
        events.sort(key=lambda raw: tuple(int(part) for part in raw.entry_id.split("-")))
        return events

    async def latest_ids(self, tasks: Iterable[str]) -> dict[str, str]:
        """Each task's last entry id now ("0-0" for an empty stream): where following starts."""
        names = list(tasks)
        async with self.runner.client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.xrevrange(self.runner.keys(name).events, count=1)
            pages: list[list[tuple[str, Any]]] = await pipe.execute()
        return {
            name: page[0][0] if page else "0-0" for name, page in zip(names, pages, strict=True)
        }

    async def job_details(
        self, wanted: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], dict[str, str | None]]:
        """(task, job id) -> the job's attempt, result, error, progress, when its last attempt
        started and it finished, and why it was cancelled, in one round trip."""
        pairs = list(dict.fromkeys(wanted))
        fields = ("attempt", "result", "error", "progress", "started", "finished", "cancel")
        async with self.runner.client.pipeline(transaction=False) as pipe:
            for task, job_id in pairs:
                pipe.hmget(self.runner.keys(task).job(job_id), fields)
            rows: list[list[str | None]] = await pipe.execute()
        return {
            pair: dict(zip(fields, row, strict=True)) for pair, row in zip(pairs, rows, strict=True)
        }

    def follow(self, cursors: Mapping[str, str]) -> Follower:
        """A reader of new entries of the tasks in ``cursors`` (task -> the entry id to read
        after, see :meth:`latest_ids`), on a blocking connection of its own."""
        return Follower(self.runner, cursors)


class Follower:
    """Reads new entries of some tasks' streams, blocking; one connection of its own."""

    def __init__(self, runner: Runner, cursors: Mapping[str, str]) -> None:
        self._client: Redis = open_client(runner.url, blocking=True, cluster=runner.cluster)
        self._runner = runner
        self._streams = {runner.keys(task).events: task for task in cursors}
        self._cursors = {runner.keys(task).events: last for task, last in cursors.items()}

    async def read(self, block_ms: int) -> list[RawEvent]:
        """New entries since the last read (waiting up to ``block_ms`` for one), expanded.

        Raises:
            ServerError: the server could not be read (call again to retry).
        """
        try:
            reply = await read_streams(
                self._client,
                self._cursors,
                count=READ_COUNT,
                block=block_ms,
                cluster=self._runner.cluster,
            )
        except kinds().failure_or_ours as exc:
            raise ServerError(f"cannot read the event streams: {exc}") from exc
        out: list[RawEvent] = []
        for stream, entries in reply or []:
            task = self._streams[stream]
            for entry_id, fields in entries:
                out += expand(task, entry_id, fields)
                self._cursors[stream] = entry_id
        return out

    def add(self, cursors: Mapping[str, str]) -> None:
        """Read these tasks' streams too, from the given entry ids on (from the next read)."""
        for task, last in cursors.items():
            stream = self._runner.keys(task).events
            if stream not in self._streams:
                self._streams[stream] = task
                self._cursors[stream] = last

    def drop(self, tasks: Iterable[str]) -> None:
        """Stop reading these tasks' streams (from the next read)."""
        for task in tasks:
            stream = self._runner.keys(task).events
            self._streams.pop(stream, None)
            self._cursors.pop(stream, None)

    async def close(self) -> None:
        await self._client.aclose()
