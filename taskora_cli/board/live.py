"""``{base}/api/events``: Server-Sent Events. Every job event of the known tasks as it happens
(``event: job``, the data ``taskora events --json`` prints), and the counts every few seconds
(``event: stats``, the data of ``taskora stats --json``), also while nothing moves.

Each stream holds one events follower and nothing else that grows: an event is read, redacted,
sent and dropped, so a stream open for hours costs what one open for a second does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .. import documents
from ..errors import TaskoraError
from ..urls import mask_urls_in
from ..views.job_events import EventReader

if TYPE_CHECKING:
    from ..event import Event
    from .context import BoardContext

RETRY_MS = 2000
"""How soon a browser reconnects a dropped stream."""


def frame(kind: str, data: str) -> str:
    """One SSE frame (the JSON is one line: no newline can split it)."""
    return f"event: {kind}\ndata: {data}\n\n"


class Live:
    """The SSE endpoint of one board."""

    def __init__(self, board: BoardContext) -> None:
        self.board = board

    async def events(self, request: Request) -> Response:
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}  # nginx: no buffer
        return StreamingResponse(self.frames(), media_type="text/event-stream", headers=headers)

    async def _stats(self) -> tuple[str, list[str]]:
        app = self.board.app
        inspector = app.inspect()
        found = await inspector.astats()
        minutes = await inspector.athroughput(minutes=60)
        document = documents.stats(found, minutes, app.config.retention)
        text = documents.json_text(self.board.redact(document))
        return text, [row.task for row in found.tasks]

    def _event(self, event: Event) -> str:
        return documents.json_text(self.board.redact(event.as_dict()))

    async def frames(self) -> AsyncIterator[str]:
        """The stream: a stats frame first and every ``stats_interval_s``; job events in
        between. The tasks followed are those known at the last stats frame: a task that
        appears later is followed from the next frame on. A frame that starts a follower goes
        out once the follower knows where the streams end, so the events after the first
        frame are shown (when the followed tasks change, the new follower starts at the
        streams' ends of that moment). A follower that loses the server is reported as an
        error frame and started anew with the next stats frame; the events in between are
        not shown."""
        loop = asyncio.get_running_loop()
        interval = self.board.settings.stats_interval_s
        yield f"retry: {RETRY_MS}\n\n"
        followed: list[str] | None = None
        reader: EventReader | None = None
        try:
            while True:
                try:
                    text, tasks = await self._stats()
                except TaskoraError as exc:  # the server is gone: say so, try again later
                    yield frame("error", documents.json_text({"error": mask_urls_in(str(exc))}))
                    await asyncio.sleep(interval)
                    continue
                if tasks != followed:  # new tasks: follow them too, from now on
                    if reader is not None:
                        await reader.close()
                        reader = None
                    followed = tasks
                    if tasks:
                        following = asyncio.Event()
                        reader = EventReader(self.board.app.events(tasks, following=following))
                        # the frame goes out once the follower knows where the streams end:
                        # a client acting on it (a dispatch) then sees every event it causes
                        await _started(reader.pending, following)
                yield frame("stats", text)
                due = loop.time() + interval
                try:
                    while reader is not None and (left := due - loop.time()) > 0:
                        event = await reader.next(timeout=left)
                        if event is None:
                            break
                        yield frame("job", self._event(event))
                except TaskoraError as exc:  # the follower lost the server: follow anew
                    yield frame("error", documents.json_text({"error": mask_urls_in(str(exc))}))
                    assert reader is not None
                    await reader.close()
                    reader, followed = None, None
                await asyncio.sleep(max(0.0, due - loop.time()))
        finally:
            if reader is not None:
                await reader.close()


async def _started(pending: asyncio.Future[Any], following: asyncio.Event) -> None:
    """Wait until the follower read where its streams end, or its first read ended (an
    error, handled where its result is taken)."""
    started = asyncio.ensure_future(following.wait())
    try:
        await asyncio.wait({pending, started}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        started.cancel()
