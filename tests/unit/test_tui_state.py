"""The dashboard's reducer as tables: a state, the keys pressed, the state and effects wanted."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from tui_data import DEAD, JOBS, NOW, boom, job, letter, loaded, on, snapshot

from taskora_cli.tui.messages import (
    Cancel,
    CancelWorkflow,
    Confirm,
    Done,
    Drain,
    Effect,
    Key,
    PauseSchedule,
    Resized,
    RetryGroup,
    RetryJob,
    SetPaused,
    Trigger,
)
from taskora_cli.tui.model import Query, Screen, Snapshot
from taskora_cli.tui.state import State, dead_groups, dead_rows, job_rows, query, reduce


def press(state: State, *keys: str) -> tuple[State, list[Effect]]:
    effects: list[Effect] = []
    for key in keys:
        state, more = reduce(state, Key(key))
        effects += more
    return state, effects


def fields(state: State, wanted: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``state`` named in ``wanted``; "cursor" is the current screen's row."""
    return {name: state.cursor() if name == "cursor" else getattr(state, name) for name in wanted}


CANCEL_PROMPT = "[y/N] cancel job aaaa1111 of send-email?"
GROUP_PROMPT = "[y/N] retry EVERY dead letter that failed with ValueError: boom"

TABLE: list[tuple[str, State, tuple[str, ...], dict[str, Any], list[Effect]]] = [
    ("q quits", State(), ("q",), {"quit": True}, []),
    ("a number key switches screens", State(), ("3",), {"screen": Screen.DEAD}, []),
    ("4 is the workers screen", State(), ("2", "4"), {"screen": Screen.WORKERS}, []),
    ("a number without a screen does nothing", State(), ("9",), {"screen": Screen.OVERVIEW}, []),
    ("? opens the help", State(), ("?",), {"help": True}, []),
    ("any key closes the help and does nothing else", State(), ("?", "q"),
     {"help": False, "quit": False}, []),
    ("j and down move down", on(Screen.JOBS), ("j", "down"), {"cursor": 2}, []),
    ("moving stops at the last row", on(Screen.JOBS), ("j", "j", "j", "j"), {"cursor": 2}, []),
    ("k and up move up, stopping at the top", on(Screen.JOBS), ("G", "k", "up", "up"),
     {"cursor": 0}, []),
    ("pgdn moves a screenful", on(Screen.JOBS, rows=2), ("pgdn",), {"cursor": 2}, []),
    ("g goes to the top", on(Screen.JOBS), ("end", "g"), {"cursor": 0}, []),
    ("l moves to the next state tab and the first row", on(Screen.JOBS), ("j", "l"),
     {"tab": "delayed", "cursor": 0}, []),
    ("h from the first tab wraps to the last", on(Screen.JOBS), ("h",),
     {"tab": "paused"}, []),
    ("/ types a filter; enter keeps it", on(Screen.JOBS), ("/", "b", "b", "x", "backspace",
     "enter"), {"filter": "bb", "editing": False}, []),
    ("keys typed into the filter do not act", on(Screen.JOBS), ("/", "q", "2"),
     {"filter": "q2", "quit": False, "editing": True}, []),
    ("esc while typing drops the filter", on(Screen.JOBS), ("/", "b", "esc"),
     {"filter": "", "editing": False}, []),
    ("esc clears a kept filter", on(Screen.JOBS, filter="bb"), ("esc",), {"filter": ""}, []),
    ("enter opens the selected job", on(Screen.JOBS), ("j", "enter"),
     {"screen": Screen.DETAIL, "job": ("send-email", "bbbb2222"), "back": Screen.JOBS}, []),
    ("esc goes back from a job", on(Screen.JOBS), ("enter", "esc"),
     {"screen": Screen.JOBS}, []),
    ("enter on a task opens its jobs", on(Screen.OVERVIEW), ("j", "enter"),
     {"screen": Screen.JOBS, "filter": "resize"}, []),
    ("c asks before cancelling", on(Screen.JOBS), ("c",),
     {"confirm": Confirm(CANCEL_PROMPT, Cancel("send-email", "aaaa1111"))}, []),
    ("y confirms the cancel", on(Screen.JOBS), ("c", "y"),
     {"confirm": None, "status": "working…"}, [Cancel("send-email", "aaaa1111")]),
    ("any other key answers no", on(Screen.JOBS), ("c", "q"),
     {"confirm": None, "status": "nothing done", "quit": False}, []),
    ("c on a screen without jobs says where to go", on(Screen.WORKERS), ("c",),
     {"confirm": None, "status": "select a job to cancel (2 Jobs)"}, []),
    ("c on a dead letter says it already ended", on(Screen.DEAD), ("c",),
     {"confirm": None, "status": "job dead0002 already ended (failed); nothing to cancel"}, []),
    ("r retries the selected dead letter at once", on(Screen.DEAD), ("j", "j", "r"),
     {"status": "working…"}, [RetryJob("send-email", "dead0004")]),
    ("r on a waiting job says which jobs can be retried", on(Screen.JOBS), ("r",),
     {"status": "job aaaa1111 is waiting; only failed, cancelled or expired jobs can be "
                "retried"}, []),
    ("r on the overview says to select a job", on(Screen.OVERVIEW), ("r",),
     {"status": "select a job to retry"}, []),
    ("R asks before retrying the whole group", on(Screen.DEAD), ("R",),
     {"confirm": Confirm(GROUP_PROMPT, RetryGroup(None, "ValueError", "boom"))}, []),
    ("y retries the group", on(Screen.DEAD), ("R", "y"),
     {"confirm": None}, [RetryGroup(None, "ValueError", "boom")]),
    ("R under --task retries that task's group only", on(Screen.DEAD, task="resize"),
     ("R", "Y"), {}, [RetryGroup("resize", "ValueError", "boom")]),
    ("p asks before pausing the selected task's queue", on(Screen.OVERVIEW), ("p",),
     {"confirm": Confirm("[y/N] pause queue default (tasks send-email)?",
                         SetPaused("default", True))}, []),
    ("y pauses it", on(Screen.OVERVIEW), ("p", "y"), {}, [SetPaused("default", True)]),
    ("p on a task of a paused queue resumes it at once", on(Screen.OVERVIEW), ("j", "p"),
     {"confirm": None, "status": "working…"}, [SetPaused("images", False)]),
    ("p before anything was read says what it needs", State(), ("p",),
     {"status": "select a task to pause or resume its queue"}, []),
    ("D asks before draining the selected worker", on(Screen.WORKERS), ("D",),
     {"confirm": Confirm("[y/N] drain worker web-1-4242 on web-1: finish its jobs, then exit?",
                         Drain("web-1-4242"))}, []),
    ("y drains it", on(Screen.WORKERS), ("D", "y"), {}, [Drain("web-1-4242")]),
    ("D on a gone worker says so", on(Screen.WORKERS), ("j", "D"),
     {"confirm": None, "status": "worker web-2-977 is already gone"}, []),
    ("/ filters dead letters by error text", on(Screen.DEAD), ("/", "t", "i", "m", "e", "r"),
     {"filter": "timer"}, []),
    ("5 is the schedules screen", State(), ("5",), {"screen": Screen.SCHEDULES}, []),
    ("t triggers the selected schedule at once", on(Screen.SCHEDULES), ("t",),
     {"confirm": None, "status": "working…"}, [Trigger("digest")]),
    ("p asks before pausing the selected schedule", on(Screen.SCHEDULES), ("p",),
     {"confirm": Confirm("[y/N] pause schedule digest (every 30s)?",
                         PauseSchedule("digest", True))}, []),
    ("y pauses the schedule", on(Screen.SCHEDULES), ("p", "y"), {},
     [PauseSchedule("digest", True)]),
    ("p on a paused schedule resumes it at once", on(Screen.SCHEDULES), ("j", "p"),
     {"confirm": None, "status": "working…"}, [PauseSchedule("nightly", False)]),
    ("t with no schedules says so", on(Screen.SCHEDULES, task="nothing"), ("t",),
     {"status": "no schedule selected"}, []),
    ("--task shows only its schedules", on(Screen.SCHEDULES, task="resize"), ("t",), {},
     [Trigger("nightly")]),
    ("6 is the workflows screen", State(), ("6",), {"screen": Screen.WORKFLOWS}, []),
    ("c asks before cancelling the selected workflow", on(Screen.WORKFLOWS), ("c",),
     {"confirm": Confirm("[y/N] cancel workflow wf-run (fan, 1/3 done)?",
                         CancelWorkflow("wf-run"))}, []),
    ("y cancels the workflow", on(Screen.WORKFLOWS), ("c", "y"), {},
     [CancelWorkflow("wf-run")]),
    ("n keeps it", on(Screen.WORKFLOWS), ("c", "n"), {"status": "nothing done"}, []),
    ("c on an ended workflow says so", on(Screen.WORKFLOWS), ("j", "c"),
     {"confirm": None, "status": "workflow wf-done already ended (completed); nothing to cancel"},
     []),
    ("c with no workflows says so", on(Screen.WORKFLOWS, task="nothing"), ("c",),
     {"status": "no workflow selected"}, []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("start", "keys", "wanted", "effects"),
    [case[1:] for case in TABLE],
    ids=[case[0] for case in TABLE],
)
def test_reducer(
    start: State, keys: tuple[str, ...], wanted: dict[str, Any], effects: list[Effect]
) -> None:
    state, done = press(start, *keys)
    assert (fields(state, wanted), done) == (wanted, effects)


def test_dead_letters_are_listed_group_by_group_the_largest_first() -> None:
    assert [d.id for d in dead_rows(on(Screen.DEAD))] == [
        "dead0002", "dead0003", "dead0004", "dead0001"
    ]  # fmt: skip


def test_the_filter_matches_a_task_an_id_prefix_or_error_text() -> None:
    failed = [job("f1", state="failed", error=boom("disk full")), job("f2", state="failed")]
    state = loaded(State(screen=Screen.JOBS, tab="failed"), snapshot(Screen.JOBS, "failed",
                                                                      jobs=failed))  # fmt: skip
    matched = {
        text: [j.id for j in job_rows(replace(state, filter=text))]
        for text in ("", "DISK", "f2", "send", "resize")
    }
    assert matched == {"": ["f1", "f2"], "DISK": ["f1"], "f2": ["f2"], "send": ["f1", "f2"],
                       "resize": []}  # fmt: skip


def test_a_page_fetched_for_another_tab_is_not_shown() -> None:
    assert job_rows(replace(on(Screen.JOBS), tab="failed")) == []


def test_a_smaller_refresh_pulls_the_cursor_back_onto_a_row() -> None:
    state, _ = press(on(Screen.JOBS), "G")
    state = loaded(state, snapshot(Screen.JOBS, jobs=JOBS[:1]))
    assert state.cursor() == 0


def test_each_screen_keeps_its_cursor_while_another_is_in_view() -> None:
    state, _ = press(on(Screen.JOBS), "j", "j", "3")
    state = loaded(state, snapshot(Screen.DEAD, dead=DEAD))
    state, _ = press(state, "j", "2")
    state = loaded(state, snapshot(Screen.DEAD, dead=DEAD))  # a late answer for the screen left
    assert (state.cursor(Screen.JOBS), state.cursor(Screen.DEAD)) == (2, 1)


def test_a_filter_naming_a_task_reads_only_that_task() -> None:
    state = on(Screen.JOBS, filter="resize", tab="active")
    assert query(state) == Query(Screen.JOBS, "resize", "active", None)
    assert query(replace(state, filter="res")).task is None


def test_the_job_screen_asks_for_its_job_only() -> None:
    state, _ = press(on(Screen.DEAD), "enter")
    assert query(state) == Query(Screen.DETAIL, None, "waiting", ("send-email", "dead0002"))


def test_a_finished_action_reports_on_the_status_line() -> None:
    state, effects = reduce(State(), Done("retried dead letter x"))
    assert (state.status, effects) == ("retried dead letter x", [])


def opened(found: Any, rows: int = 5) -> State:
    start = State(screen=Screen.DETAIL, job=(found.task, found.id), rows=rows)
    snap = Snapshot(Query(Screen.DETAIL, job=(found.task, found.id)), NOW, job=found)
    return loaded(start, snap)


def test_r_retries_a_failed_cancelled_or_expired_job_and_says_why_not_otherwise() -> None:
    retried = [press(opened(job(f"{state}1", state=state)), "r")[1]
               for state in ("failed", "cancelled", "expired")]  # fmt: skip
    done, none = press(opened(job("c1", state="completed")), "r")
    assert retried == [[RetryJob("send-email", f"{state}1")] for state in
                       ("failed", "cancelled", "expired")]  # fmt: skip
    assert (none, done.status) == (
        [],
        "job c1 is completed; only failed, cancelled or expired jobs can be retried",
    )


def test_r_on_the_jobs_screen_retries_the_selected_failed_job() -> None:
    failed = [job("f1", state="failed", error=boom())]
    state = loaded(State(screen=Screen.JOBS, tab="failed"),
                   snapshot(Screen.JOBS, "failed", jobs=failed))  # fmt: skip
    assert press(state, "r")[1] == [RetryJob("send-email", "f1")]


def test_the_job_screen_scrolls_within_its_lines() -> None:
    logs = [{"ts": NOW, "level": "info", "msg": f"step {n}"} for n in range(20)]
    state = opened(job("a1", state="active", logs=logs), rows=5)
    down, _ = press(state, *["j"] * 100)
    back, _ = press(down, "k")
    follow, _ = press(state, "f")
    # 7 lines of fields, the "logs (20)" title and 20 log lines: 28, 5 at a time
    assert (down.scroll, back.scroll, follow.follow) == (23, 22, True)


def test_a_resize_keeps_the_scroll_in_range() -> None:
    state = opened(job("a1", state="active"), rows=3)
    down, _ = press(state, "G", "k")
    bigger, _ = reduce(down, Resized(200))
    assert bigger.scroll == 0


def test_dead_letters_whose_messages_differ_only_in_values_group_and_retry_together() -> None:
    letters = [letter(f"dead{n}", message=f"card {4000 + n} declined") for n in range(3)]
    state = loaded(on(Screen.DEAD), snapshot(Screen.DEAD, dead=letters))
    [(key, members)] = dead_groups(state)
    assert (key, len(members)) == (("ValueError", "card <n> declined"), 3)
    _, effects = press(state, "R", "y")
    assert effects == [RetryGroup(None, "ValueError", "card <n> declined")]
