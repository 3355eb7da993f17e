"""``taskora doctor``: check config, task modules, the server and its wire format."""

from __future__ import annotations

from typing import Any

from .common import USAGE, ConfigOption, JsonOption, exit_code_for, fail, print_json

MIN_SERVER = (6, 2)
"""ZADD LT/GT and RPOP with a count need Redis 6.2 (every Valkey has them)."""


def doctor(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Check the setup step by step; exit non-zero naming the first problem."""
    checks: list[dict[str, Any]] = []

    def passed(name: str, detail: str) -> None:
        checks.append({"check": name, "ok": True, "detail": detail})
        if not as_json:
            print(f"ok    {name:<8} {detail}")

    def report_and_fail(name: str, error: Exception) -> None:
        code = exit_code_for(error)
        if code is None:
            raise error
        checks.append({"check": name, "ok": False, "detail": str(error)})
        if as_json:
            print_json({"ok": False, "checks": checks})
        fail(code, f"{name}: {error}")

    from .common import import_task_modules, load, load_app

    try:
        cfg = load(config)
    except Exception as exc:
        report_and_fail("config", exc)
    passed("config", str(cfg.path) if cfg.path else "no config file; defaults and environment")
    app = load_app(cfg, import_modules=False)
    try:
        import_task_modules(cfg)
    except Exception as exc:
        report_and_fail("modules", exc)
    names = sorted(app.tasks)
    passed("modules", f"{len(names)} tasks: {', '.join(names)}" if names else "no tasks defined")
    try:
        info = app.server_info()
    except Exception as exc:
        report_and_fail("server", exc)
    finally:
        app.close()
    where = cfg.url or f"embedded, {app.resolve_url()}"
    passed("server", f"{info['server']} {info['version']} ({info['mode']}) at {where}, "
           f"memory {info['used_memory']}")  # fmt: skip
    if _version(info["version"]) < MIN_SERVER:
        from ..errors import ServerError

        need = ".".join(map(str, MIN_SERVER))
        too_old = f"the server runs {info['version']}; taskora needs Redis >= {need} or Valkey"
        report_and_fail("version", ServerError(too_old))
    passed("wire", f"format {info['wire_version']} (written by {info['written_by']})")
    if as_json:
        print_json({"ok": True, "checks": checks})
    if not names:
        fail(USAGE, "no tasks: list the modules that define them in `modules`")


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(".")[:2])
    except ValueError:
        return (0,)
