"""The command tree as a whole: short flags mean one thing everywhere, every command's help
has examples, and `top --help` lists the dashboard's own keys and screens."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import typer.main

from taskora_cli.cli import app, build_command
from taskora_cli.tui.model import KEYS, NUMBERED


def leaves(command: Any, path: tuple[str, ...] = ("taskora",)) -> Iterator[tuple[str, Any]]:
    """(the command line that runs it, the click command) of every runnable command."""
    subcommands = getattr(command, "commands", None)
    if not subcommands:
        yield " ".join(path), command
        return
    for name, sub in subcommands.items():
        yield from leaves(sub, (*path, name))


def help_of(path: str) -> str:
    """The --help page of a command, as `taskora ... --help` prints it."""
    import typer._click as click

    root = build_command()
    with click.Context(root, info_name="taskora") as ctx:
        command, sub_ctx = root, ctx
        for name in path.split()[1:]:
            command = command.commands[name]
            sub_ctx = click.Context(command, info_name=name, parent=sub_ctx)
        return str(command.get_help(sub_ctx))


def test_each_short_flag_stands_for_one_long_option_in_every_command() -> None:
    meanings: dict[str, set[str]] = defaultdict(set)
    for path, command in leaves(typer.main.get_command(app)):
        for param in command.params:
            names = [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]
            longs = [n for n in names if n.startswith("--")]
            for short in (n for n in names if re.fullmatch(r"-[^-]", n)):
                meanings[short].add(f"{longs[0] if longs else '?'} ({path})")
    clashes = {
        short: sorted(used)
        for short, used in meanings.items()
        if len({u.split()[0] for u in used}) > 1
    }
    assert clashes == {}
    assert any("--limit" in u for u in meanings["-n"])


def test_every_command_help_has_examples_that_run_that_command() -> None:
    missing, wrong = [], []
    for path, _ in leaves(build_command()):
        page = help_of(path)
        if "Examples:" not in page:
            missing.append(path)
            continue
        examples = page.split("Examples:", 1)[1]
        if not any(line.strip().startswith(path) for line in examples.splitlines()):
            wrong.append(path)
    assert (missing, wrong) == ([], [])


def test_top_help_lists_every_screen_and_every_key_of_the_dashboard() -> None:
    page = help_of("taskora top")
    assert f"1-{len(NUMBERED)}" in page
    for screen in NUMBERED:
        assert screen.value in page
    lines = [" ".join(line.split()) for line in page.splitlines()]
    for keys, what in KEYS:
        assert " ".join(f"{keys} {what}".split()) in lines, keys
    assert "Schedules: fire the selected schedule now" in page
