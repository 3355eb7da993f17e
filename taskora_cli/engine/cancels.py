"""Hear cancel requests: one pub/sub connection per worker process, for all its tasks.

cancel.lua publishes the id of each active job asked to cancel on its task's channel. A message
missed while the connection was down is not lost for good: the heartbeat's lock extension also
reports the job's cancel flag (extend_lock.lua), so the worker learns at its next beat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable

from .connection import open_client
from .failures import kinds
from .keys import TaskKeys

log = logging.getLogger("taskora.worker")

RECONNECT_S = 0.5
"""How long to wait before subscribing again after the connection failed."""


POLL_S = 1.0
"""How often the listener looks at ``stop`` while no message comes."""


async def listen_for_cancels(
    url: str | Callable[[], list[str]],
    tasks: Iterable[TaskKeys],
    on_cancel: Callable[[str, str], None],
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
) -> None:
    """Call ``on_cancel(task, job_id)`` for every cancel request until ``stop`` is set (it is
    watched as well as cancellation, which redis-py can swallow). ``ready`` is set once
    subscribed: a worker claims nothing before, so it hears of every job it holds.

    ``url`` may be a function giving the nodes to try in turn (a cluster publishes to every
    node: after one fails, the listener subscribes on the next, see Engine.node_urls)."""
    by_channel = {t.cancel_channel: t.name for t in tasks}
    attempt = 0
    while not stop.is_set():
        urls = [url] if isinstance(url, str) else url()
        client = open_client(urls[attempt % len(urls)], blocking=True)
        attempt += 1
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(*by_channel)
            if ready is not None:
                ready.set()
            while not stop.is_set():
                message = await pubsub.get_message(timeout=POLL_S)
                task = by_channel.get((message or {}).get("channel", ""))
                if message is not None and message.get("type") == "message" and task:
                    on_cancel(task, str(message["data"]))
        except kinds().failure_or_ours as exc:
            log.debug("taskora: the cancel channel failed (%s); subscribing again", exc)
            await asyncio.sleep(RECONNECT_S)
        finally:
            with contextlib.suppress(*kinds().failure_or_ours, RuntimeError):
                await pubsub.aclose()
                await client.aclose()
