"""Example tasks: `taskora work --config tasks.example.toml` runs them on the embedded server.

Try them from a second terminal:

    taskora dispatch --config tasks.example.toml add --data '{"a": 2, "b": 3}' --wait
    taskora dispatch --config tasks.example.toml send-email --data '{"to": "a@example.com"}'
    taskora dispatch --config tasks.example.toml flaky --wait       # retries, then completes
    taskora dispatch --config tasks.example.toml explode --wait     # fails: exit code 1

`@task` registers each task on taskora's default app (`taskora_cli.default_app()`); for an app
object of your own (`app = Taskora(...)`, `@app.task`), see examples/own_app.py.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from taskora_cli import JobContext, Retry, task


@task("add")
def add(data: dict[str, int], ctx: JobContext) -> int:
    """A plain `def` handler: it runs in a thread pool, never blocking the worker loop."""
    return data["a"] + data["b"]


@task("send-email", retry=Retry(attempts=3, backoff="exponential", delay="1s"), timeout="30s")
async def send_email(data: dict[str, Any], ctx: JobContext) -> dict[str, str]:
    """An async handler that logs, reports progress and returns a result."""
    ctx.log.info("sending", to=data["to"])
    ctx.progress(50)
    await asyncio.sleep(0.05)  # stands in for the SMTP round trip
    ctx.progress(100)
    digest = hashlib.sha1(str(data["to"]).encode()).hexdigest()[:12]
    return {"message_id": f"m-{digest}"}


@task("flaky", retry=Retry(attempts=3, backoff="fixed", delay="200ms"))
def flaky(data: Any, ctx: JobContext) -> str:
    """Fails its first attempt and succeeds on the second."""
    if ctx.attempt == 1:
        ctx.retry(reason="the first attempt always fails")
    return f"ok on attempt {ctx.attempt}"


@task("explode")
def explode(data: Any, ctx: JobContext) -> None:
    """Always fails, so `dispatch --wait` shows the remote error and exits 1."""
    raise ValueError(f"cannot process {data!r}")
