"""The Job screen of `taskora top`: a validation error's bad fields, and payloads only a
serializer other than JSON could write."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from tui_data import job

from taskora_cli.errors import Issue
from taskora_cli.remote_error import RemoteError
from taskora_cli.serialization import Undecoded
from taskora_cli.tui.detail import detail_lines


def test_a_validation_error_lists_each_bad_field_under_the_error() -> None:
    error = RemoteError(
        "ValidationError", "data for task 'order' is invalid", None,
        (Issue("qty", "expected int"), Issue("items.0.sku", "required")),
    )  # fmt: skip
    lines = [line.plain for line in detail_lines(job("j1", state="failed", error=error))]
    at = lines.index("error      ValidationError: data for task 'order' is invalid")
    assert [line.strip() for line in lines[at + 1 : at + 3]] == [
        "qty: expected int",
        "items.0.sku: required",
    ]


def test_payloads_beyond_json_show_as_readable_text() -> None:
    data = {"at": dt.datetime(2026, 1, 2, tzinfo=dt.UTC), "blob": b"\x00\xff"}
    odd = Undecoded("zjson", "xyz", "unknown serializer")
    shown = replace(job("j2", state="completed"), data=data, result=odd)
    lines = [line.plain for line in detail_lines(shown)]
    assert 'data       {"at": "2026-01-02T00:00:00+00:00", "blob": "base64:AP8="}' in lines
    assert 'result     "<3 bytes of zjson: unknown serializer>"' in lines
