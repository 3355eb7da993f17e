"""Which app a command works with: the one `app` names, else the one the task modules define.

Celery and uvicorn users build their own app object (``app = Taskora(...)``) and point at it;
``@task`` users never see an app (theirs is the default one). Both must find their tasks.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..app import Taskora
    from ..config import Config

DEFAULT_LABEL = "the default app (@task)"


def put_root_on_path(config: Config) -> None:
    """Modules next to the config file import as-is, as the config file documents."""
    root = str(config.root)
    if root not in sys.path:
        sys.path.insert(0, root)


def named_app(config: Config) -> Taskora:
    """Import the app that ``config.app`` ("module:attr") names.

    Raises:
        ConfigError: no such module, no such attribute, or not a Taskora app; the message
            names where the reference came from and what to fix.
    """
    from ..app import Taskora

    assert config.app is not None
    ref = config.app
    module_name, _, attr = ref.partition(":")
    where = f"{_origin(config)} {ref}"
    put_root_on_path(config)
    module = _import(module_name, where, config)
    found: object = module
    for part in attr.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ConfigError(
                f"{where}: module {module_name!r} has no {part!r}; "
                f"{_apps_hint(module, module_name)}"
            ) from None
    if not isinstance(found, Taskora):
        raise ConfigError(
            f"{where}: {attr!r} is {_kind(found)}, not a Taskora app; "
            f"{_apps_hint(module, module_name)}"
        )
    return found


def discovered_app(config: Config) -> tuple[str, Taskora]:
    """The app of the (already imported) task modules, and how to name it.

    The one module-level Taskora app that has tasks; with none, the only app defined there, else
    the default app that ``@task`` registers on.

    Raises:
        ConfigError: tasks are registered on more than one app.
    """
    from ..app import Taskora, default_app

    # a TaskManager exists only if the task modules imported it: look, never import it here
    manager_module = sys.modules.get("taskora_cli.manager.task_manager")
    manager_type = getattr(manager_module, "TaskManager", ())
    default = default_app()
    own: dict[int, tuple[str, Taskora]] = {}
    for name in config.modules:
        module = sys.modules.get(name)
        for attr, value in vars(module).items() if module is not None else ():
            if isinstance(value, manager_type):  # its handlers are tasks of its app
                value = value.app
            if isinstance(value, Taskora) and value is not default:
                own.setdefault(id(value), (f"{name}:{attr}", value))
    busy = [(ref, app) for ref, app in own.values() if app.tasks]
    if default.tasks:
        busy.append((DEFAULT_LABEL, default))
    if len(busy) > 1:
        spread = ", ".join(f"{ref} ({_count(app)})" for ref, app in busy)
        where = f"in {config.path.name}" if config.path else "in taskora.toml"
        if config.path is not None and config.path.name == "pyproject.toml":
            where = "under [tool.taskora] in pyproject.toml"
        raise ConfigError(
            f"tasks are registered on several apps: {spread}; choose one with "
            f'app = "MODULE:ATTR" {where} (or --app, TASKORA_APP)'
        )
    if busy:
        return busy[0]
    if len(own) == 1:
        return next(iter(own.values()))
    return DEFAULT_LABEL, default


def describe(app: Taskora, config: Config) -> str:
    """How to name ``app`` for people: "myapp.tasks:app", or the default app's label."""
    if config.app is not None:
        return config.app
    for name in config.modules:
        module = sys.modules.get(name)
        for attr, value in vars(module).items() if module is not None else ():
            if value is app:
                return f"{name}:{attr}"
    return DEFAULT_LABEL


def _import(module_name: str, where: str, config: Config) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise ConfigError(
                f"{where}: no module named {missing!r} importable from {config.root}; "
                "check the module path (MODULE:ATTR, e.g. myapp.tasks:app)"
            ) from None
        raise _broken(module_name, where, exc, config) from exc
    except (Exception, SystemExit) as exc:  # a module calling sys.exit() at import too
        raise _broken(module_name, where, exc, config) from exc


def _broken(
    module_name: str, where: str, exc: Exception | SystemExit, config: Config
) -> ConfigError:
    at = where_it_failed(exc, config.root)
    return ConfigError(
        f"{where}: cannot import {module_name!r}{at}: {type(exc).__name__}: {exc} "
        "(fix the module, or the reference)"
    )


def _origin(config: Config) -> str:
    source = config.sources.get("app", "")
    if source == "flag":
        return "--app"
    if source.startswith("env "):
        return source.removeprefix("env ")
    return f"{source.removeprefix('file ')}: app =" if source.startswith("file ") else "app"


def _apps_hint(module: ModuleType, module_name: str) -> str:
    from ..app import Taskora

    apps = [name for name, value in vars(module).items() if isinstance(value, Taskora)]
    if apps:
        return "its Taskora apps: " + ", ".join(f"{module_name}:{name}" for name in apps)
    return "define one there (app = Taskora()) or name the module that does"


def _kind(value: object) -> str:
    if isinstance(value, ModuleType):
        return "a module"
    if inspect.isfunction(value):
        return "a function"
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiouAEIOU' else 'a'} {name}"


def _count(app: Taskora) -> str:
    return "1 task" if len(app.tasks) == 1 else f"{len(app.tasks)} tasks"


def where_it_failed(exc: BaseException, root: Path) -> str:
    """ " (path, line N)": the last frame of the traceback inside the project, or ""."""
    import traceback  # only for an error

    frames = traceback.extract_tb(exc.__traceback__)
    inside = [f for f in frames if f.filename.startswith(str(root))]
    if not inside:
        return ""
    frame = inside[-1]
    return f" ({Path(frame.filename).relative_to(root)}, line {frame.lineno})"
