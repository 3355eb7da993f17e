"""`jobs logs --follow` prints each new entry once, though the log is capped and entries may
repeat: what it prints after each read, as a table."""

from __future__ import annotations

import json
from typing import Any

import pytest

from taskora_cli.cli.jobs import _print_new


def entry(n: int) -> dict[str, Any]:
    return {"ts": 1_700_000_000_000, "level": "info", "msg": f"m{n}"}


@pytest.mark.parametrize(
    ("shown", "now", "printed"),
    [
        ([], [1, 2], [1, 2]),
        ([1, 2], [1, 2], []),
        ([1, 2], [1, 2, 3], [3]),
        ([1, 2], [1, 2, 2], [2]),  # the same line logged again is new, not a repeat
        ([1, 2], [2, 3], [3]),  # the cap dropped the oldest
        ([1, 2], [2, 2], [2]),
        ([1, 2], [7, 8], [7, 8]),  # everything shown has rolled out
    ],
)
def test_only_new_entries_are_printed(
    shown: list[int], now: list[int], printed: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    _print_new([entry(n) for n in now], [entry(n) for n in shown], as_json=True)
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["msg"] for line in lines] == [f"m{n}" for n in printed]
