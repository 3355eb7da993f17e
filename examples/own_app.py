"""Tasks on an app object of your own, as celery and uvicorn users write it.

`examples/own_app.toml` points taskora at it (`app = "own_app:app"`); from the repository root:

    taskora work --config examples/own_app.toml
    taskora dispatch invoice --data '{"customer": 7}' --wait --config examples/own_app.toml
"""

from __future__ import annotations

from typing import Any

from taskora_cli import Event, JobContext, Taskora

app = Taskora(prefix="billing")  # url, prefix: optional; the config supplies the rest


@app.task("invoice")
def invoice(data: dict[str, Any], ctx: JobContext) -> str:
    """A plain `def` handler on this app: its jobs live under the "billing" prefix."""
    return f"invoice for customer {data['customer']}"


def report_failure(event: Event) -> None:
    if event.will_retry:  # "failed" fires on every failed attempt: report the last one only
        return
    print(event.task, event.error.message if event.error else "")


app.on("task:failed", report_failure)
