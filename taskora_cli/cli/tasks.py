"""``taskora tasks ls|show``: every task the server knows, its published contract, the live
workers that run it, and how its jobs spread over payload versions."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import USAGE, fail, load, load_app, print_json, print_table
from .options import ConfigOption, JsonOption, WideOption

if TYPE_CHECKING:
    from ..task_catalog import Migrations, TaskEntry

app = typer.Typer(
    help="Look at the tasks the server knows: contracts, schemas, workers, payload versions.",
    no_args_is_help=True,
)


def complete_known_task(incomplete: str) -> list[str]:
    """Shell completion for ``tasks show``: the tasks of the configured modules and those the
    server knows (by name or by a published contract)."""
    try:
        app_ = load_app(load(None))
        try:
            contracts = app_.inspect().contracts()
        finally:
            app_.close()
        names = set(contracts.names()) | set(app_.tasks)
    except Exception:  # completion must never print errors into the user's prompt
        return []
    return sorted(name for name in names if name.startswith(incomplete))


NameArgument = Annotated[
    str,
    typer.Argument(
        metavar="NAME", help="The task's name.", autocompletion=complete_known_task
    ),
]  # fmt: skip


@app.command("ls")
def ls(as_json: JsonOption = False, wide: WideOption = False, config: ConfigOption = None) -> None:
    """List every task the server knows: its queue, payload versions (since..version), key
    options (singleton, ttl, concurrency limit, retry, timeout, collect) and how many live
    workers run it. Tasks known only by name (no published contract) are listed too, with
    what is known of them; SOURCE says which: published, local (registered in this process,
    not published yet) or name."""
    entries = _entries(config)
    if as_json:
        print_json([_entry_dict(entry) for entry in entries])
        return
    if not entries:
        print("no tasks: start a worker (`taskora work`) or dispatch one to register it")
        return
    rows = [
        (
            e.name,
            e.queue or "?",
            _versions(e),
            str(len(e.workers)),
            e.source if not e.problem else f"{e.source} (unreadable contract)",
            _options_text(e.document.options) if e.document else "",
        )
        for e in entries
    ]
    print_table(("TASK", "QUEUE", "VERSIONS", "WORKERS", "SOURCE", "OPTIONS"), rows, wide=wide)


@app.command("show")
def show(
    name: NameArgument,
    schema: Annotated[
        bool,
        typer.Option(
            "--schema",
            help="Print only the task's input JSON Schema, as JSON (exit 2 if it has none).",
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print JSON for scripts: the contract (options, input and output schemas), "
            "the live workers, and the jobs per payload version.",
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Everything known about one task: its queue and options, its input and output schemas,
    the live workers that run it, and its waiting, active and delayed jobs per payload
    version, with whether its `since` can be raised without stranding any of them.

    Exit codes: 0 shown; 2 no such task (the known names are listed), or --schema for a
    task without an input schema.
    """
    app_ = load_app(load(config))
    try:
        inspector = app_.inspect()
        entries = {entry.name: entry for entry in _task_entries(app_)}
        entry = entries.get(name)
        if entry is None:
            known = ", ".join(sorted(entries)) or "none"
            fail(USAGE, f"unknown task {name!r}; known tasks: {known}")
        migrations = None if schema else inspector.migrations(name)
    finally:
        app_.close()
    document = entry.document
    if schema:
        if document is None or document.input_schema is None:
            fail(USAGE, f"task {name!r} has no input schema{_why_none(entry)}")
        if as_json:
            print_json(document.input_schema)
        else:
            print(json.dumps(document.input_schema, indent=2, ensure_ascii=False))
        return
    assert migrations is not None
    if as_json:
        print_json(_entry_dict(entry, detailed=True) | {"migrations": migrations.as_dict()})
        return
    _print_entry(entry, migrations)


def _entries(config: Any) -> list[TaskEntry]:
    app_ = load_app(load(config))
    try:
        return _task_entries(app_)
    finally:
        app_.close()


def _task_entries(app_: Any) -> list[TaskEntry]:
    from ..task_catalog import task_entries

    return task_entries(app_.inspect().contracts(), app_.tasks)


def _why_none(entry: TaskEntry) -> str:
    if entry.problem:
        return f" readable here ({entry.problem})"
    if entry.source == "name":
        return " known here: it has no published contract (start a worker of the new version)"
    return ""


def _versions(entry: TaskEntry) -> str:
    doc = entry.document
    if doc is None:
        return "?"
    return str(doc.version) if doc.since == doc.version else f"{doc.since}..{doc.version}"


def _options_text(options: Mapping[str, Any]) -> str:
    """The options that change how jobs are run, the short way: ``singleton ttl=10m``."""
    from ..durations import format_ms

    parts = []
    if options.get("singleton"):
        parts.append("singleton")
    ttl = options.get("ttl")
    if isinstance(ttl, Mapping) and isinstance(ttl.get("max_ms"), int):
        parts.append(f"ttl={format_ms(ttl['max_ms'])}")
    limit = options.get("concurrency_limit")
    if isinstance(limit, int):
        parts.append(f"limit={limit}")
    retry = options.get("retry")
    if isinstance(retry, Mapping) and isinstance(retry.get("attempts"), int):
        parts.append(f"retry={retry['attempts']}")
    timeout = options.get("timeout_ms")
    if isinstance(timeout, int):
        parts.append(f"timeout={format_ms(timeout)}")
    if isinstance(options.get("collect"), Mapping):
        parts.append("collect")
    return " ".join(parts)


def _entry_dict(entry: TaskEntry, detailed: bool = False) -> dict[str, Any]:
    doc = entry.document
    out: dict[str, Any] = {
        "name": entry.name,
        "source": entry.source,
        "queue": entry.queue,
        "version": None if doc is None else doc.version,
        "since": None if doc is None else doc.since,
        "options": None if doc is None else dict(doc.options),
        "workers": list(entry.workers),
    }
    if entry.problem:
        out["problem"] = entry.problem
    if detailed:
        out["input_schema"] = None if doc is None else doc.input_schema
        out["output_schema"] = None if doc is None else doc.output_schema
        out["published_at_ms"] = (
            None if doc is None or entry.source != "published" else (doc.published_at_ms)
        )
    else:
        out["has_input_schema"] = doc is not None and doc.input_schema is not None
    return out


def _print_entry(entry: TaskEntry, migrations: Migrations) -> None:
    doc = entry.document
    fields = [
        ("task", entry.name),
        ("source", entry.source + (f" (contract unreadable: {entry.problem})" if entry.problem
                                   else "")),
        ("queue", entry.queue or "?"),
        ("version", f"{migrations.version} (accepts jobs since version {migrations.since})"),
        ("options", (_options_text(doc.options) or "-") if doc else "?"),
        ("workers", ", ".join(entry.workers) or "none live"),
        ("input", _schema_text(doc.input_schema if doc else None)),
        ("output", _schema_text(doc.output_schema if doc else None)),
    ]  # fmt: skip
    for name, value in fields:
        print(f"{name + ':':<10}{value}")
    print("jobs by payload version:")
    total = migrations.total()
    if not total:
        print("  none waiting, active or delayed")
    for version, count in total.items():
        where = [
            f"{place[version]} {label}"
            for label, place in (
                ("waiting", migrations.waiting),
                ("active", migrations.active),
                ("delayed", migrations.delayed),
            )
            if place.get(version)
        ]
        print(f"  v{version}: {count} ({', '.join(where)})")
    print(_since_advice(migrations))


def _schema_text(schema: Mapping[str, Any] | None) -> str:
    """A schema in one line: its fields (required ones marked *), or "any" without one."""
    if schema is None:
        return "any (no schema)"
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return str(schema.get("type") or schema.get("title") or "a JSON Schema") + (
            " (see --schema)"
        )
    required = set(schema.get("required") or ())
    names = [f"{key}{'*' if key in required else ''}" for key in properties]
    return "{" + ", ".join(names) + "}  (* required; see --schema)"


def _since_advice(m: Migrations) -> str:
    if m.since == m.version:
        return f"since:    {m.since} = version: nothing to raise"
    if m.can_raise:
        return (
            f"since:    can be raised from {m.since} to {m.raisable_to}: no unfinished job "
            f"is older (drop the migrations below it)"
        )
    oldest = min((v for v, n in m.total().items() if n > 0), default=m.since)
    return (
        f"since:    cannot be raised above {m.since} yet: jobs at version {oldest} are still "
        "waiting, active or delayed"
    )
