"""The fast reader of the one-shot commands (cli/fast_path.py: dispatch, jobs show, stats,
queues pause|resume) and typer agree on every command line the fast one takes, and it leaves to
typer every line typer refuses or that needs typer. test_fast_path_output.py checks both print
the same."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
import typer
from typer._click import exceptions as click

from taskora_cli.cli import build_command
from taskora_cli.cli.dispatch_job import run_dispatch
from taskora_cli.cli.fast_path import COMMANDS, FLAGS, VALUE_OPTIONS, Command, parse, parse_dispatch

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


OTHERS_TAKEN = [
    ["jobs", "show", "abc123"],
    ["jobs", "show", "abc123", "--json"],
    ["jobs", "show", "--task", "echo", "abc123"],
    ["jobs", "show", "abc123", "-t", "echo", "--config", "taskora.toml"],
    ["--app", "mytasks:app", "jobs", "show", "abc123"],
    ["jobs", "show", "abc123", "--app=mytasks:app"],
    ["stats"],
    ["stats", "--json", "--wide"],
    ["stats", "--watch", "--interval", "5s"],
    ["stats", "--interval=1m", "--config", "taskora.toml"],
    ["queues", "pause", "emails"],
    ["queues", "pause", "emails", "--force", "--json"],
    ["queues", "resume", "--json", "emails"],
    ["--app", "mytasks:app", "queues", "resume", "emails", "--config=taskora.toml"],
]

OTHERS_LEFT_TO_TYPER = [
    ["jobs"],
    ["jobs", "show"],
    ["jobs", "show", "a", "b"],
    ["jobs", "show", "a", "--help"],
    ["jobs", "show", "a", "--task"],
    ["jobs", "show", "a", "--json", "--json"],
    ["jobs", "show", "-"],
    ["jobs", "ls"],
    ["stats", "extra"],
    ["stats", "--interval"],
    ["stats", "--watch=yes"],
    ["stats", "-h"],
    ["queues", "pause"],
    ["queues", "pause", "emails", "--forc"],
    ["queues", "pause", "emails", "--config", "."],
    ["queues", "ls"],
    ["--app", "a:b", "stats", "--app", "c:d"],
]


def defaults(command: Command) -> dict[str, Any]:
    """The defaults of ``command``'s function, but the parameters its words fix."""
    return {
        name: p.default
        for name, p in inspect.signature(command.function()).parameters.items()
        if p.default is not inspect.Parameter.empty and name not in command.fixed
    }


def typer_call(args: list[str]) -> tuple[tuple[str, ...], dict[str, Any]] | None:
    """The command typer would run for ``args`` and its parameters (``app_ref`` the one of
    either --app), or None when it would run none (an error, --help)."""
    root = build_command(args)
    try:
        ctx = root.make_context("taskora", list(args))
        app_ref = ctx.params["app_ref"]
        words: list[str] = []
        command: Any = root
        while hasattr(command, "commands"):  # a group: on to the command its next word names
            rest = [*ctx._protected_args, *ctx.args]  # noqa: SLF001 (click has no public name)
            if not rest or rest[0] not in command.commands:
                return None
            words.append(rest[0])
            command = command.commands[rest[0]]
            ctx = command.make_context(rest[0], rest[1:], parent=ctx)
        params = dict(ctx.params)
        params["app_ref"] = params["app_ref"] or app_ref
        return tuple(words), params
    except (click.ClickException, typer.Exit):
        return None


@pytest.mark.parametrize("args", OTHERS_TAKEN + TAKEN, ids=" ".join)
def test_the_fast_reader_runs_what_typer_runs(args: list[str]) -> None:
    found = parse(args)
    assert found is not None
    command, fast = found
    assert typer_call(args) == (command.words, {**defaults(command), "app_ref": None, **fast})


@pytest.mark.parametrize("args", OTHERS_LEFT_TO_TYPER, ids=" ".join)
def test_other_lines_the_fast_reader_cannot_vouch_for_go_to_typer(args: list[str]) -> None:
    assert parse(args) is None


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c.words))
def test_the_fast_reader_knows_every_option_of_each_command(command: Command) -> None:
    clicked: Any = build_command(list(command.words))
    for word in command.words:
        clicked = clicked.commands[word]
    options = {opt for p in clicked.params if p.name not in command.arguments for opt in p.opts}
    assert options == set(command.values) | set(command.flags)
    names = {*defaults(command), *command.arguments, "app_ref"}
    assert names == {p.name for p in clicked.params}
