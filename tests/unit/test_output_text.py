"""Small pieces of what the CLI prints, as data: error shapes for grouping, plurals, relative
times, and tables cut to the width."""

from __future__ import annotations

import re
import time

import pytest

from taskora_cli.cli.common import plural, print_table
from taskora_cli.cli.schedules import _relative
from taskora_cli.views.dead_letters import error_shape, shape_pattern


@pytest.mark.parametrize(
    ("message", "shape"),
    [
        ("card 4242 declined for 'bob'", "card <n> declined for '<s>'"),
        ('bad payload {"to": "a@b.c", "n": 3}', 'bad payload {"<s>": "<s>", "<s>": <n>}'),
        ("job 6one36kapaw2jdzj is stuck", "job <id> is stuck"),
        ("no row 123e4567-e89b-12d3-a456-426614174000", "no row <id>"),
        ("HTTP 503 after 1.5s", "HTTP <n> after <n>s"),
        ("smtp timed out", "smtp timed out"),
        ("http2 stream reset", "http2 stream reset"),
    ],
)
def test_an_error_shape_masks_the_values_and_its_pattern_matches_the_original(
    message: str, shape: str
) -> None:
    assert error_shape(message) == shape
    assert re.search(shape_pattern("ValueError", shape), f"ValueError: {message}")
    assert not re.search(shape_pattern("KeyError", shape), f"ValueError: {message}")


def test_counts_agree_with_their_nouns() -> None:
    assert [plural(n, "entry") for n in (0, 1, 2)] == ["0 entries", "1 entry", "2 entries"]
    assert plural(1, "dead job") == "1 dead job" and plural(3, "worker") == "3 workers"


def test_a_time_just_passed_is_overdue_or_ago_never_in_0s() -> None:
    now_ms = int(time.time() * 1000)
    assert _relative(now_ms - 400) in ("overdue 0s", "overdue 1s")
    assert _relative(now_ms - 90_000) == "overdue 1m"
    assert _relative(now_ms - 5_000, due=False) in ("5s ago", "6s ago")
    assert _relative(now_ms + 400) == "in 1s"
    assert _relative(now_ms + 3_600_000 + 30_000).startswith("in 1h")


def test_a_table_cuts_the_last_column_first_and_keeps_short_columns_whole(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    print_table(("ID", "STATE", "SUMMARY"), [("abc", "waiting", "x" * 100), ("d", "done", "ok")])
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "ID   STATE    SUMMARY",
        "abc  waiting  " + "x" * 25 + "…",
        "d    done     ok",
    ]
    print_table(("ID", "SUMMARY"), [("a", "line one\nline two\x1b[31m")], wide=True)
    assert capsys.readouterr().out.splitlines()[1] == "a   line one line two [31m"
