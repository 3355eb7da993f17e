"""What every command shares: exit codes, loading the app, error lines, JSON and tables.

Kept free of heavy imports (typer, redis, the engine): the one-shot commands' fast path (see
fast_path.py) uses it without typer, and ``taskora --help`` and completion stay instant. The
typer option types all commands share are in options.py.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from ..app import Taskora
    from ..config import Config

OK = 0
JOB_FAILED = 1
"""The job failed, was cancelled or expired; or a dispatch was rejected."""
USAGE = 2
"""Bad flags, bad input (malformed JSON, missing file, unknown task) or bad config."""
UNREACHABLE = 3
"""The server cannot be reached (or holds an incompatible wire format)."""
TIMED_OUT = 124
"""``--wait`` gave up; the job keeps running. The same code as timeout(1)."""
INTERRUPTED = 130
"""Ctrl-C (SIGINT), as shells report it: 128 + 2."""
INTERNAL_ERROR = 70
"""An unexpected error: a bug in taskora or in the task modules' code (EX_SOFTWARE of
sysexits.h). One line on stderr; TASKORA_TRACEBACK=1 shows the traceback instead."""

EXIT_CODES_HELP = (
    "Exit codes: 0 done; 1 the job failed, was cancelled or expired, or the dispatch was "
    "rejected (throttled, duplicate); 2 usage error, bad input "
    "or bad config; 3 server unreachable; 70 unexpected error, a bug (TASKORA_TRACEBACK=1 "
    "shows its traceback); 124 --wait timed out (the job keeps running); 130 interrupted "
    "(Ctrl-C)."
)

MAX_LISTED = 1_000_000
"""The most rows a listing's --limit asks for: past it a number is a typo, and past 2**63 the
server cannot even read it."""

GLOBAL_FLAGS: dict[str, Any] = {}
"""Config keys given as flags outside a command's own parameters (``--app``, see app_option.py),
by dotted name; every ``load()`` of this process applies them."""


def remember_app(ref: str | None) -> None:
    """Make ``ref`` the ``app`` flag of every ``load()`` in this process (None: leave as is)."""
    if ref is not None:
        from ..config_schema import app_ref

        GLOBAL_FLAGS["app"] = app_ref(ref, "--app")


class CliExit(Exception):
    """Leave with ``code`` after printing ``message`` (if any) as one line on stderr."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def fail(code: int, message: str) -> NoReturn:
    """Stop the command with ``code``, printing ``message`` on stderr."""
    raise CliExit(code, message)


def error_line(message: str, prefix: str = "taskora") -> None:
    """Print ``taskora: message`` on stderr, red when stderr is a terminal; a password in any
    URL the message quotes is masked, whoever wrote the message."""
    from ..urls import mask_urls_in

    message = mask_urls_in(message)
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.markup import escape

        Console(stderr=True, highlight=False).print(
            f"[bold red]{escape(prefix)}:[/] {escape(message)}", markup=True
        )
    else:
        print(f"{prefix}: {message}", file=sys.stderr, flush=True)


def usage_line(error: Any, where: str = "taskora") -> str:
    """A click usage error as one line that names the fix, e.g. ``no such option --dely (did
    you mean --delay?); see 'taskora dispatch --help'``. ``error`` is a click UsageError;
    ``where`` the command it concerns."""
    import difflib

    from typer._click import exceptions as click

    if isinstance(error, click.NoSuchOption):
        message = f"no such option {error.option_name}"
        best = difflib.get_close_matches(error.option_name, error.possibilities or [], n=1)
        if best:
            message += f" (did you mean {best[0]}?)"
    else:
        message = error.format_message().strip()
        message = message[:1].lower() + message[1:]
        message = " ".join(message.replace(". Did you mean", " (did you mean").split())
        if "(did you mean" in message:
            message = message.rstrip(".?") + "?)"
        message = message.rstrip(".")
    return f"{message}; see '{where} --help'"


def plural(n: int, word: str, many: str | None = None) -> str:
    """ "1 entry", "2 entries", "0 dead letters": a count with its noun agreeing."""
    if n == 1:
        return f"{n} {word}"
    if many is None:
        many = word[:-1] + "ies" if word.endswith("ry") else word + "s"
    return f"{n} {many}"


def print_json(value: Any) -> None:
    """One line of JSON on stdout; what a non-JSON serializer carries beyond JSON (bytes,
    datetimes, a payload no reader here decodes) as readable text (see display_default)."""
    from ..documents import json_text

    print(json_text(value), flush=True)


def shown(value: Any) -> str:
    """A decoded payload in one line for people: JSON, with what JSON cannot carry (bytes,
    datetimes, an undecodable payload) as readable text."""
    from ..serialization import display_default

    return json.dumps(value, ensure_ascii=False, default=display_default)


MIN_CELL = 8
"""A column is never cut narrower than this (or its header, or its widest cell if less)."""


def table_width() -> int:
    """Where tables are cut: $COLUMNS, else the terminal's width, else 80 (piped)."""
    # shutil.get_terminal_size's rule for the columns, without importing shutil: it loads
    # zlib, bz2 and lzma, ~5 ms of a one-shot command such as `taskora stats`
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        out = sys.__stdout__
        try:
            columns = (os.get_terminal_size(out.fileno()).columns if out else 0) or 80
        except (AttributeError, ValueError, OSError):
            columns = 80
    return max(20, columns)


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, wide: bool = False
) -> None:
    """Print rows for people, columns two spaces apart. Cells are cut (ending in "…") so each
    line fits the terminal, the last column first, then the widest; ``wide`` keeps every cell
    whole. Control characters in a cell become spaces, so a cell is one line of plain text."""
    room = None if wide else table_width()
    cells = [[_one_line(c, room) for c in row] for row in [list(headers), *rows]]
    widths = [max(_cell_len(row[i]) for row in cells) for i in range(len(headers))]
    if room is not None:
        widths = _fit(widths, [_cell_len(h) for h in headers], room)
    bold = sys.stdout.isatty()
    for n, row in enumerate(cells):
        text = "  ".join(_cut(cell, width) for cell, width in zip(row, widths, strict=True))
        text = text.rstrip()
        print(f"\x1b[1m{text}\x1b[0m" if bold and n == 0 else text)
    sys.stdout.flush()


_CONTROL = r"[\x00-\x1f\x7f-\x9f]"  # compiled on first use (re caches it)


def _one_line(cell: str, room: int | None) -> str:
    if room is not None and len(cell) > room:
        cell = cell[:room] + "…"  # a 5 MB cell is measured by what can show, not whole
    return re.sub(_CONTROL, " ", cell)


def _fit(widths: list[int], header_widths: list[int], room: int) -> list[int]:
    """Narrow the last column (the free text: a summary, an error), then the widest ones,
    until the line fits ``room``."""
    widths = list(widths)
    floors = [min(w, max(h, MIN_CELL)) for w, h in zip(widths, header_widths, strict=True)]
    room -= 2 * (len(widths) - 1)  # the gaps
    widths[-1] = max(floors[-1], min(widths[-1], room - sum(widths[:-1])))
    while sum(widths) > room:
        shrinkable = [i for i, w in enumerate(widths) if w > floors[i]]
        if not shrinkable:
            break  # even the floors do not fit: the line wraps, nothing more to cut
        widest = max(shrinkable, key=lambda i: widths[i])
        runner_up = max((widths[i] for i in shrinkable if i != widest), default=0)
        excess = sum(widths) - room
        # straight down to the next widest (or to fit), so a huge cell costs one step
        target = max(floors[widest], runner_up, widths[widest] - excess)
        widths[widest] = min(target, widths[widest] - 1)
    return widths


def _plain(text: str) -> bool:
    """Printable ASCII: one terminal column per character, measured and cut as rich does for
    it (its own shortcut), without importing rich."""
    return text.isascii() and text.isprintable()


def _cell_len(text: str) -> int:
    if _plain(text):
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


def _cut(cell: str, width: int) -> str:
    if _plain(cell):
        return cell.ljust(width) if len(cell) <= width else cell[: width - 1] + "…"
    from rich.cells import cell_len, set_cell_size

    if cell_len(cell) <= width:
        return set_cell_size(cell, width)
    return set_cell_size(cell, width - 1) + "…"


def exit_code_for(error: BaseException) -> int | None:
    """The documented exit code for one of taskora's errors; None for anything else (a bug)."""
    from ..errors import ConfigError, DispatchRejectedError, JobError, ServerError, UsageError

    if isinstance(error, ConfigError | UsageError):
        return USAGE
    if isinstance(error, ServerError):
        return UNREACHABLE
    if isinstance(error, JobError | DispatchRejectedError):
        return JOB_FAILED
    return None


def load(config_path: Path | None, overrides: Mapping[str, Any] | None = None) -> Config:
    """The effective configuration for this command."""
    from ..config import load_config

    return load_config(config_path, overrides={**GLOBAL_FLAGS, **(overrides or {})})


def load_app(config: Config, *, import_modules: bool = True) -> Taskora:
    """The app this command works with, configured: the one ``app`` names ("module:attr"),
    else the one the task modules define, else the default app (the one ``@task`` uses).

    Args:
        import_modules: False when the command needs the app (its server and prefix) but not
            its tasks: with ``app`` set, only the app's own module is imported. Without it the
            task modules are imported all the same, to find the app in them.

    Raises:
        ConfigError: a module cannot be imported, ``app`` names no app, or tasks are
            registered on several apps.
    """
    from .find_app import discovered_app, named_app

    if config.app is not None:
        app = named_app(config)
        if import_modules:
            import_task_modules(config)
    else:
        import_task_modules(config)
        app = discovered_app(config)[1]
    app.configure(config)
    app.runtime.follow_in_background = False  # listeners belong to workers and the app's code
    return app


def report_check(app: Taskora, serving: dict[str, Any], as_json: bool, where: str) -> None:
    """A server command's ``--check``: reach the server (unreachable: exit 3, as every
    command), then say where it would serve, as JSON or as ``ok: would serve WHERE``."""
    try:
        app.server_info()
    finally:
        app.close()
    if as_json:
        print_json(serving | {"checked": True})
    else:
        print(f"ok: would serve {where}")


def confirm(question: str) -> bool:
    """Ask on the terminal; only "y" or "yes" is a yes. Written to stderr, not with
    typer.confirm: click writes the space after the prompt to stdout, which --json owns."""
    sys.stderr.write(f"{question} [y/N]: ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


@contextmanager
def opened_app(config_path: Path | None) -> Iterator[Taskora]:
    """The configured app, without importing the task modules (the server knows the tasks by
    name), closed on the way out."""
    app = load_app(load(config_path), import_modules=False)
    try:
        yield app
    finally:
        app.close()


def import_task_modules(config: Config) -> None:
    """Import the configured task modules, with the config's directory on sys.path.

    Raises:
        ConfigError: a module cannot be imported; the message names it and the cause.
    """
    from ..errors import ConfigError
    from .find_app import where_it_failed

    root = str(config.root)
    if root not in sys.path:
        sys.path.insert(0, root)
    for name in config.modules:
        try:
            importlib.import_module(name)
        except (Exception, SystemExit) as exc:  # a module calling sys.exit() at import too
            where = where_it_failed(exc, config.root)
            raise ConfigError(
                f"cannot import task module {name!r}{where}: {type(exc).__name__}: {exc} "
                f"(check `modules` in {config.path or 'the config'} and that it is importable "
                f"from {config.root})"
            ) from exc


def complete_task_name(incomplete: str) -> list[str]:
    """Shell completion for task names: the tasks of the configured modules."""
    try:
        names = load_app(load(None)).tasks
    except Exception:  # completion must never print errors into the user's prompt
        return []
    return sorted(name for name in names if name.startswith(incomplete))
