"""The dashboard's render as snapshots: a state drawn on an 80-column console, as text."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from rich.console import Console
from tui_data import NOW, boom, job, loaded, on

from taskora_cli.tui.messages import Key
from taskora_cli.tui.model import NUMBERED, Query, Screen, Snapshot
from taskora_cli.tui.render import CHROME, header, render, throughput_lines
from taskora_cli.tui.state import State, reduce


def draw(state: State, width: int = 80) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(render(state, width))
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


@pytest.fixture
def utc() -> Iterator[None]:
    """Clock times print in local time: pin it to UTC for the snapshot."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if saved is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = saved
    time.tzset()


def test_the_overview_fills_an_80x24_terminal() -> None:
    assert draw(on(Screen.OVERVIEW, rows=24 - CHROME)) == "\n".join(
        [
            "taskora 1 Overview  2 Jobs  3 Dead letters  4 Workers  5 Schedules  6 Workflows",
            "valkey 9.0.0  memory 1.5M  clients 7  workers 1 live, 1 gone",
            "per minute " + "▁" * 40 + "▂▂▃▃▃▄▅▅▅▆▇▇▇█" + "▁" * 6 + " peak 140",
            "last minute: 0 done, 0 failed    last hour: 1050 done, 1 failed",
            "",
            "QUEUE    STATE    WAIT  DELAY  ACTIVE  FAILED  LATENCY  TASKS",
            "default  running     3      0       0       3     2.5s  send-email",
            "images   paused      0      1       2       1        -  resize",
            "",
            "TASK             WAIT  DELAY  ACTIVE  DONE  FAILED  EXPIRED  CANCEL  LATENCY",
            "send-email          3      0       0  1200       3        0       0     2.5s",
            "resize [paused]     0      1       2  1.5M       1        0       1        -",
            "TOTAL               3      1       2  1.5M       4        0       1     2.5s",
            *[""] * 10,
            "↑↓ select  enter jobs of task  p pause/resume its queue  ? help  q quit",
        ]
    )


def test_the_sparkline_marks_minutes_with_failures_red_and_idle_ones_dim() -> None:
    spark = throughput_lines(on(Screen.OVERVIEW), 80)[0]
    console = Console(width=80, file=io.StringIO())
    styles = [str(spark.get_style_at_offset(console, i)) for i in range(11, 71)]
    assert styles == ["dim"] * 40 + ["green"] * 10 + ["red"] + ["green"] * 3 + ["dim"] * 6


def test_the_jobs_screen_scrolls_to_keep_the_cursor_in_view() -> None:
    state, _ = reduce(on(Screen.JOBS, rows=4), Key("G"))
    assert draw(state) == "\n".join(
        [
            "taskora 1 Overview  2 Jobs  3 Dead letters  4 Workers  5 Schedules  6 Workflows",
            " wait 3  delay 1  active 2  done 1.5M  failed 4  expired 0  cancel 1  paused 0",
            "ID        TASK        ATT  WAITED  SUMMARY",
            'bbbb2222  send-email    0    4.0s  {"to": "bob@example.com"}',
            "cccc3333  resize        0    3.0s  [640, 480]",
            "",
            "←→ state  ↑↓ select  / filter  enter detail  c cancel  r retry  ? help  q quit",
        ]
    )


def test_dead_letters_show_group_by_group_with_the_question_on_the_status_line() -> None:
    state, _ = reduce(on(Screen.DEAD, rows=7), Key("R"))
    assert draw(state) == "\n".join(
        [
            "taskora 1 Overview  2 Jobs  3 Dead letters  4 Workers  5 Schedules  6 Workflows",
            "4 dead letters",
            "    3 x ValueError: boom",
            "        dead0002  send-email  attempts 3  failed 20.0s ago",
            "        dead0003  resize      attempts 3  failed 30.0s ago",
            "        dead0004  send-email  attempts 3  failed 40.0s ago",
            "    1 x ValueError: timeout",
            "        dead0001  send-email  attempts 3  failed 10.0s ago",
            "[y/N] retry EVERY dead letter that failed with ValueError: boom",
            "↑↓ select  r retry  R retry group  / filter  enter detail  ? help  q quit",
        ]
    )


def test_the_workers_screen_shows_slots_counts_and_heartbeat_age() -> None:
    assert draw(on(Screen.WORKERS, rows=3)) == "\n".join(
        [
            "taskora 1 Overview  2 Jobs  3 Dead letters  4 Workers  5 Schedules  6 Workflows",
            "HOST    PID  QUEUES   BUSY  DONE  FAILED   BEAT  STATE  TASKS",
            "web-1  4242  default   1/4   120       3   1.0s  live   send-email,resize",
            "web-2   977  default   0/4   120       3  45.0s  gone   send-email,resize",
            "",
            "↑↓ select  D drain worker  1-6 screens  ? help  q quit",
        ]
    )


def test_a_failed_job_shows_its_progress_timeline_traceback_and_logs(utc: None) -> None:
    logs = [{"ts": NOW - 2000, "level": "error", "msg": "sending failed", "fields": {"code": 550}}]
    failed = job("f1", state="failed", error=boom(), attempt=3, data={"to": "x"}, progress=40,
                 logs=logs)  # fmt: skip
    start = State(screen=Screen.DETAIL, job=("send-email", "f1"), rows=15, back=Screen.DEAD)
    state = loaded(start, Snapshot(Query(Screen.DETAIL, job=("send-email", "f1")), NOW, job=failed))
    assert draw(state) == "\n".join(
        [
            "taskora 1 Overview  2 Jobs  3 Dead letters  4 Workers  5 Schedules  6 Workflows",
            "job        f1",
            "task       send-email",
            "state      failed",
            "attempt    3   priority 0   stalls 0",
            "progress   ████████████░░░░░░░░░░░░░░░░░░ 40%",
            "dispatched 23:59:55.000",
            "started    23:59:56.000   waited 1.00s",
            "ended      23:59:58.000   ran 2.00s",
            'data       {"to": "x"}',
            "error      ValueError: boom",
            "  Traceback (most recent call last):",
            '    File "tasks.py", line 9',
            "  ValueError: boom",
            "logs (1)",
            "  23:59:58.000 error  sending failed code=550",
            "",
            "esc back  ↑↓ scroll  f follow logs  r retry  c cancel  ? help  q quit",
        ]
    )


def test_long_values_are_cut_to_the_width_never_wrapped() -> None:
    noisy = job("n1", task="t" * 40, data={"text": "x" * 200})
    state = loaded(
        State(screen=Screen.JOBS, rows=3), Snapshot(Query(Screen.JOBS), NOW, jobs=[noisy])
    )
    lines = draw(state).splitlines()
    assert lines[3] == "n1  " + "t" * 23 + '…    0    5.0s  {"text": "' + "x" * 26 + "…"
    assert (len(lines), max(len(line) for line in lines)) == (3 + CHROME, 80)


@pytest.mark.parametrize("screen", list(Screen))
def test_every_screen_is_exactly_the_terminal_height_and_no_wider(screen: Screen) -> None:
    lines = draw(on(screen, rows=24 - CHROME)).splitlines()
    assert len(lines) == 24 and max(len(line) for line in lines) <= 80


def test_the_status_line_shows_the_filter_being_typed_then_a_read_error() -> None:
    typing, _ = reduce(on(Screen.JOBS, rows=1, filter="send"), Key("/"))
    unreachable = loaded(
        State(rows=1), Snapshot(Query(Screen.OVERVIEW), NOW, error="cannot reach the server")
    )
    assert draw(typing).splitlines()[-2] == "/send▏"
    assert draw(unreachable).splitlines()[-2] == "cannot read the server: cannot reach the server"


def test_the_schedules_screen_counts_down_to_the_next_run_and_shows_the_last_outcome() -> None:
    assert draw(on(Screen.SCHEDULES, rows=4)) == "\n".join(
        [
            "taskora 1 Overview  2 Jobs  3 Dead letters  4 Workers  5 Schedules  6 Workflows",
            "NAME     TASK        STATE       NEXT   LAST  OUTCOME    SKIPPED  WHEN",
            "digest   send-email  active  in 12.0s  18.0s  completed        0  every 30s",
            "nightly  resize      paused     in 2h      -  -                3  cron 0 2 * * …",
            "",
            "",
            "↑↓ select  p pause/resume  t trigger now  ? help  q quit",
        ]
    )


def test_help_lists_the_keys() -> None:
    lines = draw(replace(on(Screen.OVERVIEW, rows=24 - CHROME), help=True)).splitlines()
    assert lines[1:4] == [
        "Keys",
        "  1-6       Overview, Jobs, Dead letters, Workers, Schedules, Workflows",
        "  ↑ ↓  j k  move; PgUp PgDn, g G: by page, to the ends",
    ]
    assert [line for line in lines if line][-2] == "  q         quit"  # all fit in 80x24


def test_the_header_highlights_the_screen_in_view_or_the_one_a_job_was_opened_from() -> None:
    opened, _ = reduce(on(Screen.DEAD), Key("enter"))
    console = Console(width=80, file=io.StringIO())

    def highlighted(state: State) -> list[str]:
        top = header(state, 80)
        names = [f" {n} {screen.value} " for n, screen in enumerate(NUMBERED, 1)]
        return [
            name.strip()
            for name in names
            if "reverse" in str(top.get_style_at_offset(console, top.plain.index(name) + 1))
        ]

    assert highlighted(on(Screen.JOBS)) == ["2 Jobs"]
    assert (opened.screen, highlighted(opened)) == (Screen.DETAIL, ["3 Dead letters"])


def test_a_job_with_times_no_calendar_can_show_lists_and_opens_with_them_as_stored(
    utc: None,
) -> None:
    from taskora_cli.views.inspector import Timeline

    far = 10**17
    odd = replace(
        job("o1", state="delayed", logs=[{"ts": far, "msg": "from the future"}]),
        timeline=Timeline.from_ms(dispatched_at=far, started_at=None, finished_at=-far, run_at=far),
    )
    listed = loaded(
        State(screen=Screen.JOBS, rows=3, tab="delayed"),
        Snapshot(Query(Screen.JOBS, state="delayed"), NOW, jobs=[odd]),
    )
    assert "o1" in draw(listed)
    start = State(screen=Screen.DETAIL, job=("send-email", "o1"), rows=15)
    opened = loaded(start, Snapshot(Query(Screen.DETAIL, job=("send-email", "o1")), NOW, job=odd))
    shown = draw(opened, width=120)
    assert f"dispatched {far}ms (out of range)" in shown
    assert f"due        {far}ms (out of range)" in shown
    assert f"  {far}ms (out of range) info" in shown


def test_the_workflows_screen_lists_progress_and_the_selected_tree() -> None:
    text = draw(on(Screen.WORKFLOWS, rows=24 - CHROME))
    lines = text.splitlines()
    assert lines[0].endswith("6 Workflows")
    assert any("wf-run" in row and "running" in row and "1/3" in row for row in lines)
    assert any("wf-done" in row and "completed" in row and "1/1" in row for row in lines)
    assert "workflow wf-run  fan  running" in text
    tree = [row.strip() for row in lines if "#" in row]
    assert tree == [
        "• #0 send-email completed",
        "└ #1 resize active",
        "└ #2 resize waiting",
        "└ #3 send-email pending  after #1, #2",
    ]
    assert "c cancel workflow" in lines[-1]


def test_the_workflows_screen_shows_the_tree_of_the_row_selected() -> None:
    state, _ = reduce(on(Screen.WORKFLOWS, rows=24 - CHROME), Key("j"))
    text = draw(state)
    assert "workflow wf-done  resize  completed" in text and "#3" not in text
