"""What every command shares: exit codes, the --config option, loading the app, error lines.

Kept free of heavy imports (redis, the engine) so ``taskora --help`` and completion stay instant.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from rich.console import Console

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

EXIT_CODES_HELP = (
    "Exit codes: 0 done; 1 the job failed, was cancelled or expired, or the dispatch was "
    "rejected (throttled, duplicate); 2 usage error, bad input "
    "or bad config; 3 server unreachable; 124 --wait timed out (the job keeps running)."
)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Config file (default: $TASKORA_CONFIG, ./taskora.toml, or [tool.taskora] in "
        "./pyproject.toml).",
        dir_okay=False,
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


class CliExit(Exception):
    """Leave with ``code`` after printing ``message`` (if any) as one line on stderr."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def fail(code: int, message: str) -> NoReturn:
    """Stop the command with ``code``, printing ``message`` on stderr."""
    raise CliExit(code, message)


def error_line(message: str) -> None:
    """Print ``taskora: message`` on stderr, red when stderr is a terminal."""
    if sys.stderr.isatty():
        from rich.console import Console

        Console(stderr=True, highlight=False).print(f"[bold red]taskora:[/] {message}", markup=True)
    else:
        print(f"taskora: {message}", file=sys.stderr, flush=True)


def print_json(value: Any) -> None:
    """One line of JSON on stdout."""
    print(json.dumps(value, ensure_ascii=False, separators=(",", ":")), flush=True)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> Console:
    """Print rows for people: every column at full width but the last, cut to fit a terminal
    (piped, nothing is cut: grep sees whole lines). Returns the console, for a footer."""
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 10_000)
    grid = Table(box=None, header_style="bold")
    used = 0
    for i, name in enumerate(headers[:-1]):
        widest = max(len(name), *(len(row[i]) for row in rows))
        grid.add_column(name, no_wrap=True, min_width=widest)
        used += widest + 2  # the padding either side
    room = max(10, console.width - used - 2)
    grid.add_column(headers[-1], no_wrap=True, overflow="ellipsis", max_width=room)
    for row in rows:
        grid.add_row(*row)
    console.print(grid)
    return console


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

    return load_config(config_path, overrides=overrides)


def load_app(config: Config, *, import_modules: bool = True) -> Taskora:
    """The default app (the one ``@task`` registers on), configured, with its modules imported."""
    from ..app import default_app

    app = default_app()
    app.configure(config)
    if import_modules:
        import_task_modules(config)
    return app


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

    root = str(config.root)
    if root not in sys.path:
        sys.path.insert(0, root)
    for name in config.modules:
        try:
            importlib.import_module(name)
        except Exception as exc:
            where = _where_it_failed(exc, config.root)
            raise ConfigError(
                f"cannot import task module {name!r}{where}: {type(exc).__name__}: {exc} "
                f"(check `modules` in {config.path or 'the config'} and that it is importable "
                f"from {config.root})"
            ) from exc


def _where_it_failed(exc: BaseException, root: Path) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    inside = [f for f in frames if f.filename.startswith(str(root))]
    if not inside:
        return ""
    frame = inside[-1]
    return f" ({Path(frame.filename).relative_to(root)}, line {frame.lineno})"


def complete_task_name(incomplete: str) -> list[str]:
    """Shell completion for task names: the tasks of the configured modules."""
    try:
        config = load(None)
        import_task_modules(config)
        from ..app import default_app

        names = default_app().tasks
    except Exception:  # completion must never print errors into the user's prompt
        return []
    return sorted(name for name in names if name.startswith(incomplete))
