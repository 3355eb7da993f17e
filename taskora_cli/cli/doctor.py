"""``taskora doctor``: check config, task modules, the server and its wire format."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from ..urls import mask_url, mask_urls_in
from .common import USAGE, exit_code_for, fail, print_json
from .options import ConfigOption, JsonOption

MIN_SERVER = (6, 2)
"""ZADD LT/GT and RPOP with a count need Redis 6.2 (every Valkey has them)."""
OVER_THRESHOLD = 1
"""A task's queue latency or waiting depth crossed --max-latency or --max-depth."""
EXIT_HELP = (
    "Exit codes: 0 all checks passed; 1 a task is over --max-latency or --max-depth; 2 bad "
    "config, task modules or flags; 3 server unreachable, too old or in another wire format."
)


def doctor(
    config: ConfigOption = None,
    as_json: JsonOption = False,
    max_latency: Annotated[
        str | None,
        typer.Option(
            "--max-latency",
            metavar="DURATION",
            help="Fail when a task's oldest waiting job is older than this (e.g. 60s, 5m).",
            show_default=False,
        ),
    ] = None,
    max_depth: Annotated[
        int | None,
        typer.Option(
            "--max-depth",
            min=0,
            help="Fail when more than this many jobs of a task are waiting.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check the setup step by step; exit non-zero naming the first problem. With
    --max-latency or --max-depth, also check every task's queue (for cron alerting)."""
    from ..durations import to_ms  # a bad value is a usage error before anything connects

    latency = (
        None if max_latency is None else (to_ms(max_latency, what="--max-latency"), max_latency)
    )
    _doctor(config, as_json, latency, max_depth)


def _doctor(
    config: Any, as_json: bool, max_latency: tuple[int, str] | None, max_depth: int | None
) -> None:  # fmt: skip
    checks: list[dict[str, Any]] = []

    def passed(name: str, detail: str) -> None:
        checks.append({"check": name, "ok": True, "detail": detail})
        if not as_json:
            print(f"ok    {name:<8} {detail}")

    def report_and_fail(name: str, error: Exception) -> None:
        code = exit_code_for(error)
        if code is None:
            raise error
        checks.append({"check": name, "ok": False, "detail": mask_urls_in(str(error))})
        if as_json:
            print_json({"ok": False, "checks": checks})
        fail(code, f"{name}: {error}")

    from .common import load, load_app

    try:
        cfg = load(config)
    except Exception as exc:
        report_and_fail("config", exc)
    passed("config", str(cfg.path) if cfg.path else "no config file; defaults and environment")
    try:
        app = load_app(cfg)
    except Exception as exc:
        report_and_fail("modules", exc)
    names = sorted(app.tasks)
    passed("modules", f"{len(names)} tasks: {', '.join(names)}" if names else "no tasks defined")
    try:
        info = app.server_info()
        stats = _stats(app, max_latency, max_depth)
    except Exception as exc:
        report_and_fail("server", exc)
    finally:
        app.close()
    where = mask_url(cfg.url) if cfg.url else f"embedded, {app.resolve_url()}"
    passed("server", f"{info['server']} {info['version']} ({info['mode']}) at {where}, "
           f"memory {info['used_memory']}")  # fmt: skip
    if _version(info["version"]) < MIN_SERVER:
        from ..errors import ServerError

        need = ".".join(map(str, MIN_SERVER))
        too_old = f"the server runs {info['version']}; taskora needs Redis >= {need} or Valkey"
        report_and_fail("version", ServerError(too_old))
    passed("wire", f"format {info['wire_version']} (written by {info['written_by']})")
    _check_queues(stats, (max_latency, max_depth), checks, as_json, passed)
    if as_json:
        print_json({"ok": True, "checks": checks})
    if not names:
        fail(USAGE, "no tasks: list the modules that define them in `modules`")


def _stats(app: Any, max_latency: tuple[int, str] | None, max_depth: int | None) -> Any:
    """The inspector's stats when a threshold was asked for, else None."""
    return None if max_latency is None and max_depth is None else app.inspect().stats()


def _check_queues(
    stats: Any,
    limits: tuple[tuple[int, str] | None, int | None],
    checks: list[Any],
    as_json: bool,
    passed: Callable[[str, str], None],
) -> None:
    """Stop with OVER_THRESHOLD naming the first task over a threshold (no stats: no check)."""
    if stats is None:
        return
    from ..queue_health import over_threshold

    over = over_threshold(stats.tasks, *limits)
    if over:
        checks.append({"check": "queues", "ok": False, "detail": over})
        if as_json:
            print_json({"ok": False, "checks": checks})
        fail(OVER_THRESHOLD, f"queues: {over}")
    passed("queues", f"{len(stats.tasks)} tasks within the thresholds")


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(".")[:2])
    except ValueError:
        return (0,)
