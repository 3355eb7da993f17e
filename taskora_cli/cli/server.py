"""``taskora server status|start|stop``: the embedded Valkey server, and a local Valkey Cluster
for experiments (``--cluster N``); ``taskora server migrate``: take a server over from an older
wire format."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..urls import mask_url
from .common import UNREACHABLE, USAGE, confirm, fail, load, opened_app, print_json
from .options import ConfigOption, JsonOption

if TYPE_CHECKING:
    from ..config import Config
    from ..engine.embedded import EmbeddedStatus
    from ..engine.local_cluster import LocalCluster

app = typer.Typer(
    help="Show, start and stop the embedded Valkey server (used when no url is configured), "
    "or a local Valkey Cluster for experiments.",
    no_args_is_help=True,
)

ClusterOption = Annotated[
    int | None,
    typer.Option(
        "--cluster", metavar="N", show_default=False,
        help="Start a local Valkey Cluster of N masters (on 127.0.0.1, in the state dir, for "
        "experiments: nothing is persisted) instead of the embedded server; point url or "
        "TASKORA_URL at the URL it prints.",
    ),
]  # fmt: skip
ReplicasOption = Annotated[
    int | None,
    typer.Option(
        "--replicas", metavar="R", show_default=False,
        help="With --cluster: replicas per master (default 1; 0 for none).",
    ),
]  # fmt: skip
StopClusterOption = Annotated[
    bool,
    typer.Option("--cluster", help="Stop the local cluster `server start --cluster` started."),
]


@app.command()
def status(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show whether the embedded server runs (socket, pid, version, memory, AOF), and the
    local cluster if one was started."""
    from ..engine.embedded import embedded_status

    cfg = load(config)
    found = embedded_status(cfg.state_dir)
    cluster = _local_cluster(cfg.state_dir)
    if as_json:
        print_json({**_as_dict(found, cfg), "cluster": cluster and cluster.describe()})
        return
    _print_status(found, cfg)
    if cluster is not None:
        _print_cluster(cluster.describe())


@app.command()
def start(
    config: ConfigOption = None,
    as_json: JsonOption = False,
    cluster: ClusterOption = None,
    replicas: ReplicasOption = None,
) -> None:
    """Start the embedded server (or find it running) and print its URL; with --cluster N, a
    local Valkey Cluster of N masters instead."""
    from ..engine.embedded import embedded_status, ensure_embedded

    if cluster is not None:
        _start_cluster(load(config), cluster, 1 if replicas is None else replicas, as_json)
        return
    if replicas is not None:
        fail(USAGE, "--replicas goes with --cluster N (replicas per master of a local cluster)")
    cfg = _embedded_only(load(config), "start")
    url = ensure_embedded(cfg.state_dir)
    if as_json:
        print_json({"url": url, **_as_dict(embedded_status(cfg.state_dir), cfg)})
    else:
        print(url)


@app.command()
def stop(
    config: ConfigOption = None, as_json: JsonOption = False, cluster: StopClusterOption = False
) -> None:
    """Stop the embedded server; its AOF keeps every queued job for the next start. With
    --cluster, stop the local cluster instead (its data goes with it)."""
    from ..engine.embedded import stop_embedded

    if cluster:
        _stop_cluster(load(config), as_json)
        return
    cfg = _embedded_only(load(config), "stop")
    stopped = stop_embedded(cfg.state_dir)
    if as_json:
        print_json({"stopped": stopped, "state_dir": str(cfg.state_dir)})
    else:
        print("stopped" if stopped else f"not running (state dir {cfg.state_dir})")


@app.command()
def migrate(
    config: ConfigOption = None,
    as_json: JsonOption = False,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Do not ask for confirmation (needed without a TTY)."),
    ] = False,
) -> None:
    """Hand the configured server (embedded or not), whose data an older taskora wrote, to this
    version: its jobs stay, rewritten into this version's layout. Stop every taskora process of
    the older version first: they would misread what this one writes."""
    import sys

    if not (yes or sys.stdin.isatty()):
        fail(USAGE, "server migrate changes the server's wire format record: pass --yes")
    question = "Every taskora process of the older version is stopped?"
    if not (yes or confirm(question)):
        fail(USAGE, "not migrated")
    with opened_app(config) as tk:
        outcome, before, rewritten = tk.migrate_wire_format()
    from ..engine import keys

    if outcome == "unreadable":
        fail(
            UNREACHABLE,
            f"the server holds wire format {before}, which this taskora cannot take over: "
            "drain its queues with the taskora that wrote it, or use a new prefix",
        )
    if outcome == "newer":
        fail(UNREACHABLE, f"the server holds wire format {before}, a newer taskora's: upgrade")
    if as_json:
        print_json(
            {
                "outcome": outcome,
                "from": before,
                "to": keys.WIRE_VERSION,
                "jobs_rewritten": rewritten,
            }
        )
    elif outcome == "migrated":
        jobs = f"{rewritten:,} job{'' if rewritten == 1 else 's'}"
        print(f"migrated from wire format {before} to {keys.WIRE_VERSION}: {jobs} rewritten")
    else:
        print(f"nothing to do: the server is at wire format {before or keys.WIRE_VERSION}")


def _embedded_only(cfg: Config, verb: str) -> Config:
    if cfg.url:
        fail(USAGE, f"the config names a server ({mask_url(cfg.url)}); taskora does not {verb} "
             "that one, only the embedded server used when no url is set (or a local "
             f"cluster: `taskora server {verb} --cluster`)")  # fmt: skip
    return cfg


def _cluster_dir(state_dir: Path) -> Path:
    return state_dir.expanduser().resolve() / "cluster"


def _local_cluster(state_dir: Path) -> LocalCluster | None:
    from ..engine.local_cluster import find_cluster

    return find_cluster(_cluster_dir(state_dir))


def _start_cluster(cfg: Config, masters: int, replicas: int, as_json: bool) -> None:
    """Start the local cluster (or find the same one running) and print its URL. Unlike the
    embedded server, it may be started whatever url the config names: that is how it is used
    (point url or TASKORA_URL at it)."""
    from ..engine.local_cluster import ensure_cluster

    running = ensure_cluster(_cluster_dir(cfg.state_dir), masters, replicas)
    if as_json:
        print_json(running.describe())
    else:
        print(running.url)


def _stop_cluster(cfg: Config, as_json: bool) -> None:
    from ..engine.local_cluster import stop_cluster

    stopped = stop_cluster(_cluster_dir(cfg.state_dir))
    if as_json:
        print_json({"stopped": stopped, "state_dir": str(cfg.state_dir)})
    else:
        print("stopped" if stopped else f"no local cluster (state dir {cfg.state_dir})")


def _print_cluster(described: dict[str, Any]) -> None:
    each = "replica" if described["replicas"] == 1 else "replicas"
    starting = " [starting]" if described["state"] != "running" else ""
    print(f"\nlocal cluster{starting}: {described['url']} ({described['masters']} masters, "
          f"{described['replicas']} {each} each; {described['directory']})")  # fmt: skip
    for node in described["nodes"]:
        state = (
            f"{node['role'] or 'not answering'}, pid {node['pid']}" if node["running"] else "down"
        )
        print(f"  127.0.0.1:{node['port']}  {state}")


def _as_dict(found: EmbeddedStatus, cfg: Config) -> dict[str, object]:
    return {
        "in_use": cfg.url is None,
        "running": found.running,
        "state_dir": str(found.state_dir),
        "socket": str(found.socket),
        "pid": found.pid,
        "version": found.version,
        "used_memory": found.used_memory_human,
        "aof": found.aof_enabled,
        "log": str(found.log),
    }


def _print_status(found: EmbeddedStatus, cfg: Config) -> None:
    if cfg.url:
        print(f"taskora uses {mask_url(cfg.url)}; the embedded server below is not in use")
    rows = {
        "running": "yes" if found.running else "no",
        "state dir": found.state_dir,
        "socket": found.socket,
        "pid": found.pid,
        "version": found.version,
        "memory": found.used_memory_human,
        "aof": {True: "on (appendfsync everysec)", False: "off", None: None}[found.aof_enabled],
        "log": found.log,
    }
    for name, value in rows.items():
        if value is not None:
            print(f"{name + ':':<11}{value}")
