"""``taskora events``: job events, the recent past or followed live; one line each, as text
or as JSON Lines (``--json``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .common import MAX_LISTED, load, load_app, print_json, shown
from .options import ConfigOption

if TYPE_CHECKING:
    from ..views.job_events import Event


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
            "--limit",
            "-n",
            min=0,
            max=MAX_LISTED,
            help="How many recent events of each task to print first.",
        ),
    ] = 20,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="One JSON object per event and per line (JSON Lines), as events stream: "
            "nothing at all when there are none.",
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Print job events, one per line: when, event, task, job, attempt, and the result, error
    or progress where the event has one. With --json each line is a JSON object with the keys
    event, task, job, at, attempt, result, error, progress. Each task keeps its last ~10,000."""
    app = load_app(load(config))

    import asyncio  # here, not at the top: `taskora --help` imports every command's module
    import signal

    async def run() -> None:
        from ..views.job_events import EventReader

        # Ctrl-C is how a follow ends: it stops the loop below, which then stops the read in
        # flight (EventReader.close cancels it until it ends; one cancel alone can get lost)
        interrupted = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, interrupted.set)
        reader = EventReader(app.events(task or None, recent=limit, follow=follow))
        stopping = asyncio.ensure_future(interrupted.wait())
        try:
            while (event := await reader.next(stop=stopping)) is not None:
                print_json(event.as_dict()) if as_json else print(_line(event), flush=True)
        finally:
            stopping.cancel()
            await reader.close()
            await app.aclose()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        return  # a Ctrl-C before the follow began


def _line(event: Event) -> str:
    from ..moments import local_text

    ms = event.at_ms if event.at_ms is not None else round(event.at.timestamp() * 1000)
    when = local_text(ms, "%Y-%m-%d %H:%M:%S.%f")
    when = when[:-3] if when[-1:].isdigit() else when  # microseconds -> milliseconds
    parts = [when, f"{event.name:<9}", event.task, event.job_id]
    if event.attempt is not None:
        parts.append(f"attempt {event.attempt}")
    if event.error is not None:
        parts.append(f"— {event.error.summary()}")
        parts += [f"[{issue}]" for issue in event.error.issues]
    elif event.name == "completed":
        parts.append(f"→ {shown(event.result)}")
    elif event.name == "progress":
        parts.append(shown(event.progress))
    parts += [f"{key}={value}" for key, value in (event.details or {}).items()]
    return " ".join(parts)
