"""The Job screen's lines: everything stored about one job, one rich Text per line.

Pure, and independent of the terminal's width (long lines are cut by render, never wrapped),
so the reducer can count the lines to keep the scroll in range.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.text import Text

from ..job_state import JobState
from ..moments import local_text
from ..serialization import display_default

if TYPE_CHECKING:
    from ..views.inspector import JobInfo

BAR = 30
"""Cells of the progress bar."""


def detail_lines(job: JobInfo) -> list[Text]:
    """Identity, progress, timeline, data, result or error with its traceback, then the logs."""
    lines = [
        _field("job", Text(job.id, style="bold")),
        _field("task", job.task),
        _field("state", Text(job.state, style=STATE_STYLES.get(job.state, ""))),
        _field("attempt", f"{job.attempt}   priority {job.priority}   stalls {job.stalls}"),
    ]
    if job.progress is not None:
        lines.append(_field("progress", progress_bar(job.progress)))
    lines += timeline_lines(job)
    lines.append(_field("data", _json(job.data)))
    if job.state == JobState.COMPLETED:
        lines.append(_field("result", _json(job.result)))
    if job.cancel_reason is not None:
        lines.append(_field("cancelled", job.cancel_reason or "(no reason given)"))
    failure = job.outcome_error  # once completed, an earlier failure is only history
    if failure is not None:
        error = f"{failure.type or 'Error'}: {failure.message}"
        lines.append(_field("error", Text(error, style="red")))
        lines += [_field("", Text(f"  {issue}", style="red")) for issue in failure.issues]
        trace = (failure.traceback or "").rstrip()
        lines += [Text("  " + line, style="dim red") for line in trace.splitlines()]
    for attempt in job.attempts()[:-1]:
        if attempt.error is not None:
            said = f"attempt {attempt.number} {attempt.outcome}: {attempt.error.type or 'Error'}"
            said += f": {attempt.error.message}"
            lines.append(_field("earlier", Text(said, style="dim")))
    lines.append(Text(f"logs ({len(job.logs)})", style="bold"))
    lines += [_log_line(entry) for entry in job.logs]
    return lines


STATE_STYLES: dict[str, str] = {
    JobState.WAITING: "cyan",
    JobState.DELAYED: "blue",
    JobState.ACTIVE: "yellow",
    JobState.PAUSED: "bright_black",
    JobState.COMPLETED: "green",
    JobState.FAILED: "red",
    JobState.EXPIRED: "magenta",
    JobState.CANCELLED: "dim",
}


def _field(name: str, value: str | Text) -> Text:
    line = Text.assemble((f"{name:<11}", "bold"))
    line.append(value if isinstance(value, Text) else Text(value))
    return line


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=display_default)


def progress_bar(value: Any) -> Text:
    """A bar for a percent (a number, or a dict with ``percent`` or ``done``/``total``);
    anything else as JSON."""
    ratio = _ratio(value)
    if ratio is None:
        return Text(_json(value))
    filled = round(ratio * BAR)
    bar = Text("█" * filled, style="green")
    bar.append("░" * (BAR - filled), style="dim")
    bar.append(f" {ratio * 100:.0f}%")
    if isinstance(value, dict):
        bar.append("  " + _json(value), style="dim")
    return bar


def _ratio(value: Any) -> float | None:
    if isinstance(value, dict):
        if _number(value.get("percent")):
            value = value["percent"]
        elif _number(value.get("done")) and _number(value.get("total")) and value["total"] > 0:
            return float(min(1.0, max(0.0, value["done"] / value["total"])))
    if _number(value) and 0 <= value <= 100:
        return float(value) / 100
    return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def timeline_lines(job: JobInfo) -> list[Text]:
    """The latest attempt, one step a line: dispatched, started (after waiting how long),
    ended (after running how long), and when a delayed or retrying job is due."""
    t = job.timeline
    dispatched, started, ended, due = (
        t.ms(name) for name in ("dispatched_at", "started_at", "finished_at", "run_at")
    )
    lines = [_field("dispatched", _clock(dispatched))]
    if started is not None:
        lines.append(_field("started", _clock(started) + _took("waited", dispatched, started)))
    if ended is not None:
        lines.append(_field("ended", _clock(ended) + _took("ran", started, ended)))
    if due is not None and job.state == JobState.DELAYED:
        lines.append(_field("due", _clock(due)))
    return lines


def _clock(ms: object) -> str:
    when = local_text(ms, "%H:%M:%S.%f")
    return when[:-3] if when[-1:].isdigit() else when  # microseconds -> milliseconds


def _took(what: str, start_ms: int | None, end_ms: int) -> str:
    if start_ms is None:
        return ""
    return f"   {what} {max(0.0, (end_ms - start_ms) / 1000):.2f}s"


def _log_line(entry: dict[str, Any]) -> Text:
    when = _clock(entry.get("ts", 0))
    level = str(entry.get("level", "info"))
    line = Text(f"  {when} ")
    line.append(f"{level:<7}", style="red" if level in ("error", "warning") else "dim")
    line.append(str(entry.get("msg", "")))
    for key, value in (entry.get("fields") or {}).items():
        line.append(f" {key}={_json(value)}", style="dim")
    return line
