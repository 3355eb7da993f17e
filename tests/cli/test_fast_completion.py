"""Completing a command word without typer (cli/fast_completion.py) answers as typer does, in
bash, zsh and fish, from a table that matches the typer tree; every other completion request
is left to typer."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from taskora_cli.cli import build_command
from taskora_cli.cli.completion_table import WORDS
from taskora_cli.cli.fast_completion import complete_command_word

ROOT = Path(__file__).resolve().parents[2]


def _tool() -> Any:
    spec = importlib.util.spec_from_file_location(
        "completion_table_tool", ROOT / "tools/completion_table.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_table_matches_the_typer_tree() -> None:
    tool = _tool()
    assert (ROOT / "taskora_cli/cli/completion_table.py").read_text() == tool.render(
        tool.table()
    ), "a command changed: run python tools/completion_table.py"


def _lines() -> list[str]:
    """Every command word of every group: none typed yet, its first letter, all of it; and a
    word no command starts with."""
    lines = []
    for group, entries in WORDS.items():
        head = " ".join(["taskora", group]).rstrip()
        lines += [f"{head} ", f"{head} zz"]
        for name, _, _ in entries:
            lines += [f"{head} {name[0]}", f"{head} {name}"]
    return sorted(set(lines))


REQUESTS = [
    *({"_TASKORA_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": line} for line in _lines()),
    *(
        {
            "_TASKORA_COMPLETE": "complete_fish",
            "_TYPER_COMPLETE_FISH_ACTION": action,
            "_TYPER_COMPLETE_ARGS": line,
        }
        for line in _lines()
        for action in ("get-args", "is-args")
    ),
    *(
        {
            "_TASKORA_COMPLETE": "complete_bash",
            # the bash script joins the words with newlines (IFS), the last empty after a space
            "COMP_WORDS": "\n".join(line.split(" ")),
            "COMP_CWORD": str(len(line.split(" ")) - 1),
        }
        for line in _lines()
    ),
]


@pytest.fixture(scope="module")
def typer_command() -> Any:
    return build_command()


def _typer_answer(
    command: Any, request: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> tuple[str, int]:
    for name, value in request.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as ended:
        command.main(args=[], prog_name="taskora")
    return capsys.readouterr().out, int(ended.value.code or 0)


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: f"{r['_TASKORA_COMPLETE']}")
def test_a_command_word_is_completed_as_typer_completes_it(
    request_: dict[str, str], typer_command: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    answer = complete_command_word(request_)
    assert answer is not None
    text, code = answer
    assert (text + "\n" if text is not None else "", code) == _typer_answer(
        typer_command, request_, monkeypatch, capsys
    )


@pytest.mark.parametrize(
    "line",
    [
        "taskora -",  # options
        "taskora --app tasks:app ",  # an option before the command
        "taskora dispatch ",  # a command's argument
        "taskora jobs show ",
        "taskora jobs ls --state ",
        "taskora 'qu",  # quoting: typer's splitter
        "taskora jobs\\ ",
        "taskora nosuch ",
        "taskora jobs\u00a0l",  # a no-break space: shlex keeps it inside the word
    ],
)
def test_anything_but_a_command_word_is_left_to_typer(line: str) -> None:
    zsh = {"_TASKORA_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": line}
    assert complete_command_word(zsh) is None
    words = line.split(" ")
    bash = {
        "_TASKORA_COMPLETE": "complete_bash",
        "COMP_WORDS": "\n".join(words),
        "COMP_CWORD": str(len(words) - 1),
    }
    assert complete_command_word(bash) is None


def test_other_instructions_are_left_to_typer() -> None:
    assert complete_command_word({"_TASKORA_COMPLETE": "source_bash"}) is None
    assert complete_command_word({}) is None
    bad_cword = {"_TASKORA_COMPLETE": "complete_bash", "COMP_WORDS": "taskora", "COMP_CWORD": "x"}
    assert complete_command_word(bad_cword) is None


def test_the_taskora_command_answers_a_completion_without_typer(tmp_path: Path) -> None:
    request = {"_TASKORA_COMPLETE": "complete_bash", "COMP_WORDS": "taskora\nqu", "COMP_CWORD": "1"}
    probe = (
        "import runpy, sys\n"
        "sys.argv = ['taskora']\n"
        "try:\n"
        "    runpy.run_module('taskora_cli', run_name='__main__')\n"
        "except SystemExit as ended:\n"
        "    sys.stderr.write(f'exit {ended.code} typer={\"typer\" in sys.modules}')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PATH": "/usr/bin:/bin", **request},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.stdout, done.stderr) == ("queues\n", "exit 0 typer=False")
