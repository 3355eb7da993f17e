"""The fast reader of ``taskora dispatch`` (cli/fast_path.py) and typer agree on every command
line the fast one takes, and it leaves to typer every line typer refuses or that needs typer."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
import typer
from typer._click import exceptions as click

from taskora_cli.cli import build_command
from taskora_cli.cli.dispatch_job import run_dispatch
from taskora_cli.cli.fast_path import FLAGS, VALUE_OPTIONS, parse_dispatch

DEFAULTS = {
    name: p.default
    for name, p in inspect.signature(run_dispatch).parameters.items()
    if p.default is not inspect.Parameter.empty
}

TAKEN = [
    ["dispatch", "echo"],
    ["dispatch", "echo", "--data", '{"to": "a@example.com"}'],
    ["dispatch", "echo", "-d", "[1, 2]", "-w"],
    ["dispatch", "--data=", "echo"],
    ["dispatch", "echo", "--data=--x"],
    ["dispatch", "echo", "--data", "@-", "--wait", "--timeout", "5s", "--raw"],
    ["dispatch", "echo", "--delay", "5s", "--priority", "0"],
    ["dispatch", "echo", "--priority", "255", "--json", "--skip-validation"],
    ["dispatch", "echo", "--id", "order-42", "--at", "2026-12-24T09:00Z"],
    ["dispatch", "echo", "--ttl", "10m", "--on-expire", "discard"],
    ["dispatch", "echo", "--debounce", "doc:1=2s", "--allow-reject"],
    ["dispatch", "echo", "--throttle", "k=1/1m", "--concurrency-key", "k=2"],
    ["dispatch", "echo", "--dedup", "k", "--dedup-while", "waiting,active"],
    ["dispatch", "echo", "--ndjson", "-"],
    ["dispatch", "echo", "--config", "taskora.toml"],
    ["dispatch", "echo", "--config=missing/taskora.toml"],
    ["dispatch", "--app", "mytasks:app", "echo"],
    ["--app", "mytasks:app", "dispatch", "echo"],
    ["--app=mytasks:app", "dispatch", "echo", "--data", "1"],
    ["dispatch", "--wait", "echo"],
    ["dispatch", "echo", "--data", ""],
    ["dispatch", "échø", "--data", '"ünïcode"'],
]

LEFT_TO_TYPER = [
    [],
    ["--help"],
    ["dispatch"],
    ["dispatch", "--help"],
    ["dispatch", "echo", "-h"],
    ["dispatch", "echo", "extra"],
    ["dispatch", "echo", "--dely", "5s"],
    ["dispatch", "echo", "--data"],
    ["dispatch", "echo", "--data", "-1"],
    ["dispatch", "echo", "--data", "1", "--data", "2"],
    ["dispatch", "echo", "--priority", "256"],
    ["dispatch", "echo", "--priority", "-1"],
    ["dispatch", "echo", "--priority", "1.5"],
    ["dispatch", "echo", "--priority", "007"],
    ["dispatch", "echo", "--wait=yes"],
    ["dispatch", "echo", "-wd", "1"],
    ["dispatch", "echo", "-d=1"],
    ["dispatch", "echo", "--config", "."],
    ["dispatch", "echo", "--config", ""],
    ["dispatch", "echo", "--", "x"],
    ["dispatch", "-"],
    ["--app", "a:b", "dispatch", "echo", "--app", "c:d"],
    ["--json", "dispatch", "echo"],
    ["jobs", "show", "x"],
]


def typer_params(args: list[str]) -> dict[str, Any] | None:
    """The parameters typer would call ``dispatch`` with (``app_ref`` the one of either
    --app), or None when it would not call it (an error, --help, another command)."""
    root = build_command(args)
    try:
        with root.make_context("taskora", list(args)) as ctx:
            rest = [*ctx._protected_args, *ctx.args]  # noqa: SLF001 (click has no public name)
            if not rest or rest[0] != "dispatch":
                return None
            command = root.commands["dispatch"]
            with command.make_context("dispatch", rest[1:], parent=ctx) as sub:
                params = dict(sub.params)
                params["app_ref"] = params["app_ref"] or ctx.params["app_ref"]
                return params
    except (click.ClickException, typer.Exit):  # an error, or --help
        return None


@pytest.mark.parametrize("args", TAKEN, ids=" ".join)
def test_the_fast_reader_passes_what_typer_passes(args: list[str]) -> None:
    fast = parse_dispatch(args)
    assert fast is not None
    assert typer_params(args) == {**DEFAULTS, "app_ref": None, **fast}


@pytest.mark.parametrize("args", LEFT_TO_TYPER, ids=lambda a: " ".join(a) or "(nothing)")
def test_lines_the_fast_reader_cannot_vouch_for_go_to_typer(args: list[str]) -> None:
    assert parse_dispatch(args) is None


def test_a_directory_as_config_goes_to_typer(tmp_path: Path) -> None:
    assert parse_dispatch(["dispatch", "echo", "--config", str(tmp_path)]) is None
    assert typer_params(["dispatch", "echo", "--config", str(tmp_path)]) is None


def test_the_fast_reader_knows_every_option_of_the_command() -> None:
    command = build_command(["dispatch"]).commands["dispatch"]
    options = {opt for param in command.params if param.name != "task" for opt in param.opts}
    assert options == set(VALUE_OPTIONS) | set(FLAGS)
    assert set(DEFAULTS) | {"task", "app_ref"} == {p.name for p in command.params}
