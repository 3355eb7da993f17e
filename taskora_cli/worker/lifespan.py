"""Worker start-up and shutdown hooks (``@app.on_startup``, ``@app.on_shutdown``).

A hook builds what handlers share (a database pool, an HTTP client) once per worker process
and puts it on the worker's state namespace, which handlers read as ``ctx.state``; the
shutdown hooks take it down again. A hook takes the state (``def startup(state)``) or nothing,
and may be ``async``; a plain one runs in a thread, so a slow connect does not block the loop.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

from ..errors import UsageError

log = logging.getLogger("taskora.worker")

Hook = Callable[..., Any]


def check_hook(fn: Hook, kind: str) -> Hook:
    """``fn`` if it can be a hook: callable with the state or with nothing.

    Raises:
        UsageError: not callable, or takes more than one required argument.
    """
    if not callable(fn):
        raise UsageError(f"an {kind} hook must be callable, got {fn!r}")
    required = [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if len(required) > 1:
        raise UsageError(f"the {kind} hook {fn.__name__!r} takes (state) or nothing")
    return fn


async def run_hook(fn: Hook, state: SimpleNamespace) -> None:
    """Call one hook with ``state`` (if it takes an argument): awaited, or in a thread."""
    args = (state,) if inspect.signature(fn).parameters else ()
    if inspect.iscoroutinefunction(fn):
        await fn(*args)
        return
    outcome = await asyncio.to_thread(fn, *args)
    if inspect.isawaitable(outcome):
        await outcome


async def start_up(hooks: Iterable[Hook], state: SimpleNamespace) -> None:
    """Run the start-up hooks in order; the first that raises stops the start."""
    for fn in hooks:
        await run_hook(fn, state)


async def shut_down(hooks: Iterable[Hook], state: SimpleNamespace) -> None:
    """Run every shutdown hook (in order); one that raises is logged and the rest still run."""
    for fn in hooks:
        try:
            await run_hook(fn, state)
        except Exception:
            log.exception("taskora: the shutdown hook %r failed", fn)
