"""The ``taskora`` command: one module per command noun, each a thin layer over the library."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from .common import (
    INTERNAL_ERROR,
    INTERRUPTED,
    USAGE,
    CliExit,
    error_line,
    exit_code_for,
    usage_line,
)
from .fast_completion import COMPLETION_VARIABLE, complete_command_word

if TYPE_CHECKING:
    from collections.abc import Sequence


def __getattr__(name: str) -> Any:
    # `app`, the whole Typer app, built on first use: a command line builds only what it runs.
    if name == "app":
        from .tree import build_app

        globals()["app"] = built = build_app()
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_command(args: Sequence[str] | None = None) -> Any:
    """The click command behind ``taskora``, every --help page with its Examples: the whole
    tree, or (given a command line's ``args``) only the command they run, when that can be
    told from them (see tree.command_word)."""
    from .tree import build_command as build

    return build(args)


def main() -> None:
    """Run the command; taskora's own errors become one line on stderr and a documented code."""
    from .fast_path import fast_command

    undecodable = _not_utf8(sys.argv[1:])
    if undecodable:
        error_line(
            f"{undecodable} is not UTF-8 text; taskora reads arguments and TASKORA_* "
            "variables as UTF-8: retype it, or use a UTF-8 locale (LANG=C.UTF-8)"
        )
        sys.exit(USAGE)
    if COMPLETION_VARIABLE in os.environ:
        _complete_fast_if_plain()
    run = fast_command(sys.argv[1:]) or _run_with_typer
    try:
        code = run()
    except CliExit as stop:
        if stop.message:
            error_line(stop.message)
        sys.exit(stop.code)
    except KeyboardInterrupt:
        _leave_interrupted()
    except Exception as exc:
        _leave_on(exc)
    if code == INTERRUPTED:  # typer turns a Ctrl-C inside a command into Exit(130)
        _leave_interrupted()
    sys.exit(code if isinstance(code, int) else 0)


def _complete_fast_if_plain() -> None:
    """Answer a shell's completion of a command word without typer, when it is one."""
    answer = complete_command_word(os.environ)
    if answer is not None:
        text, code = answer
        if text is not None:
            sys.stdout.write(text + "\n")
        sys.exit(code)


def _run_with_typer() -> Any:
    """Parse the command line with typer (building only the command it runs) and run it;
    click's own errors (usage, --help of a bare group, Ctrl-C at a prompt) leave here."""
    import typer
    from typer._click import exceptions as click

    try:
        return build_command(sys.argv[1:]).main(prog_name="taskora", standalone_mode=False)
    except click.NoArgsIsHelpError as bare:  # `taskora jobs`: the help is the answer
        bare.show()
        sys.exit(USAGE)
    except click.UsageError as bad:
        where = bad.ctx.command_path if bad.ctx else _command_path(sys.argv[1:])
        error_line(usage_line(bad, where), prefix=where)
        sys.exit(USAGE)
    except click.ClickException as bad:  # e.g. an unreadable file argument
        error_line(bad.format_message())
        sys.exit(bad.exit_code)
    except typer.Abort:  # Ctrl-C or end of input at a prompt
        sys.exit(INTERRUPTED)


def _leave_on(error: Exception) -> NoReturn:
    """Exit with ``error``'s documented code, saying it in one line; a bug (an error of no
    documented code) exits 70, or shows its traceback with TASKORA_TRACEBACK=1."""
    code = exit_code_for(error)
    if code is None:  # a bug, in taskora or in the task modules' code
        if os.environ.get("TASKORA_TRACEBACK"):
            raise error
        _report_bug(error)
        sys.exit(INTERNAL_ERROR)
    _report(error)
    sys.exit(code)


def _report(error: Exception) -> None:
    """One of taskora's errors on stderr: one line, and for invalid data one more line per
    bad field ("  path: message"), so each can be read and fixed."""
    from ..errors import ValidationError

    if not isinstance(error, ValidationError):
        error_line(str(error))
        return
    error_line(f"{error.what} for task {error.task!r} is invalid:")
    for line in [str(issue) for issue in error.issues] or ["(rejected by its schema)"]:
        print(f"  {line}", file=sys.stderr, flush=True)


def _report_bug(error: Exception) -> None:
    """An unexpected error as one line (errors are one line, never a traceback): what it is
    and where it was raised, and how to see the whole traceback to report it."""
    import traceback

    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    what = " ".join(f"{type(error).__name__}: {error}".split())  # one line, whatever it says
    error_line(
        f"unexpected error{where}: {what} (a bug: TASKORA_TRACEBACK=1 shows the traceback "
        "to report)"
    )


def _leave_interrupted() -> None:
    """Exit 130 at once: a coroutine the interrupt cancelled on the background loop may still
    be unwinding, and its garbage collection at a normal exit would print noise on stderr."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(INTERRUPTED)


def _not_utf8(args: list[str]) -> str:
    """The first argument (or TASKORA_* variable) that did not decode as UTF-8, described
    with the bytes Python kept for it as lone surrogates; "" when all did."""
    named = [(f"argument {n} ({_shown(arg)})", arg) for n, arg in enumerate(args, start=1)]
    named += [(name, value) for name, value in os.environ.items() if name.startswith("TASKORA_")]
    for what, text in named:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return what
    return ""


def _shown(arg: str) -> str:
    raw = arg.encode("utf-8", "surrogateescape")  # the bytes as typed
    text = raw.decode("ascii", "backslashreplace")
    return text if len(text) <= 40 else text[:37] + "..."


def _command_path(args: list[str]) -> str:
    """``taskora jobs ls`` from the words of a command line (for the errors click raises
    before it knows the command)."""
    command, path = build_command(), ["taskora"]
    for word in args:
        subcommands = getattr(command, "commands", None) or {}
        if word not in subcommands:
            break
        command = subcommands[word]
        path.append(word)
    return " ".join(path)
