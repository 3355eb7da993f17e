"""The ``taskora`` command: one module per command noun, each a thin layer over the library."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer

from . import (
    config,
    dispatch,
    dlq,
    doctor,
    events,
    gateway,
    init,
    jobs,
    queues,
    schedules,
    server,
    stats,
    tasks,
    top,
    work,
    workers,
    workflows,
)
from .app_option import AppOption, add_app_option, remember_app
from .common import (
    EXIT_CODES_HELP,
    INTERNAL_ERROR,
    INTERRUPTED,
    USAGE,
    CliExit,
    error_line,
    exit_code_for,
    usage_line,
)

app = typer.Typer(
    name="taskora",
    help="A command-line-first job runner for Python on Redis.\n\n"
    "With no server URL configured, taskora starts (or reuses) an embedded Valkey server in "
    "./.taskora.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _global_options(app_ref: AppOption = None) -> None:
    remember_app(app_ref)  # `taskora --app X COMMAND`, as celery's -A


app.command(epilog=EXIT_CODES_HELP)(work.work)
app.command(epilog=EXIT_CODES_HELP)(dispatch.dispatch)
app.command()(init.init)
app.command(name="config")(config.show_config)
app.command(epilog=doctor.EXIT_HELP)(doctor.doctor)
app.add_typer(server.app, name="server")
app.add_typer(dlq.app, name="dlq")
app.command()(stats.stats)
app.add_typer(jobs.app, name="jobs")
app.add_typer(tasks.app, name="tasks")
app.add_typer(workers.app, name="workers")
app.add_typer(queues.app, name="queues")
app.command()(events.events)
app.add_typer(schedules.app, name="schedules")
app.add_typer(workflows.app, name="workflows")
app.command()(top.top)
app.command()(gateway.gateway)
add_app_option(app)  # `taskora COMMAND --app X`, beside --config


def build_command() -> Any:
    """The click command behind ``taskora``, every --help page with its Examples."""
    from .examples import attach_examples

    command = typer.main.get_command(app)
    attach_examples(command)
    return command


def main() -> None:
    """Run the command; taskora's own errors become one line on stderr and a documented code."""
    from typer._click import exceptions as click

    undecodable = _not_utf8(sys.argv[1:])
    if undecodable:
        error_line(
            f"{undecodable} is not UTF-8 text; taskora reads arguments and TASKORA_* "
            "variables as UTF-8: retype it, or use a UTF-8 locale (LANG=C.UTF-8)"
        )
        sys.exit(USAGE)
    try:
        code = build_command().main(prog_name="taskora", standalone_mode=False)
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
