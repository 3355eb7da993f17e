"""stop_reading ends a follow even when its read in flight swallows a cancel (as a blocking
read can turn one cancel into its own timeout and read on), and closes the stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from taskora_cli.views.job_events import stop_reading


async def test_a_read_that_swallowed_the_first_cancel_is_cancelled_again_and_closed() -> None:
    reading = asyncio.Event()
    cancels = 0
    closed = False

    async def follow() -> AsyncIterator[int]:
        nonlocal cancels, closed
        try:
            while True:
                try:
                    reading.set()
                    await asyncio.Event().wait()  # a read that never gets an entry
                except asyncio.CancelledError:
                    cancels += 1
                    if cancels == 1:
                        continue  # the first cancel became a timeout: it reads on
                    raise
                yield 1
        finally:
            closed = True

    stream = follow()
    pending = asyncio.ensure_future(anext(stream))
    await reading.wait()
    assert await stop_reading(pending, stream) == (None, None)
    assert pending.cancelled() and cancels == 2 and closed
