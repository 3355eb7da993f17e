"""``taskora events``: job events as JSON lines, the recent past or followed live."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from .common import ConfigOption, load, load_app, print_json


def events(
    follow: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Keep printing new events until Ctrl-C."),
    ] = False,
    task: Annotated[
        list[str] | None,
        typer.Option(
            "--task", "-t", help="Only this task's events (repeat for more).", show_default=False
        ),
    ] = None,
    limit: Annotated[
        int,
        typer.Option(
            "--limit", "-n", min=0, help="How many recent events of each task to print first."
        ),
    ] = 20,
    config: ConfigOption = None,
) -> None:
    """Print job events, one JSON object per line: event, task, job, at, attempt, and the
    result, error or progress where the event has one. Each task keeps its last ~10,000."""
    app = load_app(load(config))

    async def run() -> None:
        stream = app.events(task or None, recent=limit, follow=follow)
        try:
            async for event in stream:
                print_json(event.as_dict())
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
            await app.aclose()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        return  # Ctrl-C is how a follow ends
