"""``taskora init``: write a starter taskora.toml."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from .common import USAGE, fail, print_json
from .options import JsonOption


def init(
    url: Annotated[
        str | None,
        typer.Option(
            help="Server URL (redis://, rediss://, unix://). Default: none, so the embedded "
            "server is used.",
            show_default=False,
        ),
    ] = None,
    app: Annotated[
        str | None,
        typer.Option(
            "--app",
            metavar="MODULE:ATTR",
            help="Your own Taskora app object, e.g. myapp.tasks:app. Default: none (the app "
            "the modules define, else the default app of @task).",
            show_default=False,
        ),
    ] = None,
    module: Annotated[
        list[str] | None,
        typer.Option(
            "--module", "-m", help="A module that defines tasks. Repeatable.", show_default=False
        ),
    ] = None,
    prefix: Annotated[
        str | None,
        typer.Option(help="Key prefix, to share a server between apps.", show_default=False),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1, help="[worker] concurrency: jobs per task per process.", show_default=False
        ),
    ] = None,
    path: Annotated[Path, typer.Option("--path", help="Where to write.", dir_okay=False)] = Path(
        "taskora.toml"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Write a starter taskora.toml from the flags (checked by loading it back)."""
    import tomli_w

    from ..config import load_config

    document: dict[str, Any] = {}
    if url is not None:
        document["url"] = url
    if app is not None:
        document["app"] = app
    for name in module or []:
        if not all(part.isidentifier() for part in name.split(".")):
            fail(USAGE, f"--module {name!r} is not a Python module name: give dotted "
                 "identifiers, e.g. myapp.tasks")  # fmt: skip
    document["modules"] = list(module or [])
    if prefix is not None:
        document["prefix"] = prefix
    if concurrency is not None:
        document["worker"] = {"concurrency": concurrency}
    text = tomli_w.dumps(document)
    try:
        if path.exists() and not force:
            fail(USAGE, f"{path} already exists; pass --force to overwrite it")
        path.parent.mkdir(parents=True, exist_ok=True)
        previous = path.read_bytes() if path.exists() else None
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(USAGE, f"cannot write {path}: {exc.strerror or exc}; give --path a file in a "
             "folder you can write")  # fmt: skip
    try:
        load_config(path, env={})
    except Exception:
        # A bad flag value: leave the directory as it was, and let the caller see why.
        if previous is None:
            path.unlink()
        else:
            path.write_bytes(previous)
        raise
    if as_json:
        print_json({"path": str(path), "written": True, "config": document})
    else:
        print(f"wrote {path}")
