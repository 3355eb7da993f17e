"""``taskora server status|start|stop``: the embedded Valkey server."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ..urls import mask_url
from .common import USAGE, fail, load, print_json
from .options import ConfigOption, JsonOption

if TYPE_CHECKING:
    from ..config import Config
    from ..engine.embedded import EmbeddedStatus

app = typer.Typer(
    help="Show, start and stop the embedded Valkey server (used when no url is configured).",
    no_args_is_help=True,
)


@app.command()
def status(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show whether the embedded server runs: socket, pid, version, memory, AOF."""
    from ..engine.embedded import embedded_status

    cfg = load(config)
    found = embedded_status(cfg.state_dir)
    if as_json:
        print_json(_as_dict(found, cfg))
        return
    _print_status(found, cfg)


@app.command()
def start(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Start the embedded server (or find it running) and print its URL."""
    from ..engine.embedded import embedded_status, ensure_embedded

    cfg = _embedded_only(load(config), "start")
    url = ensure_embedded(cfg.state_dir)
    if as_json:
        print_json({"url": url, **_as_dict(embedded_status(cfg.state_dir), cfg)})
    else:
        print(url)


@app.command()
def stop(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Stop the embedded server; its AOF keeps every queued job for the next start."""
    from ..engine.embedded import stop_embedded

    cfg = _embedded_only(load(config), "stop")
    stopped = stop_embedded(cfg.state_dir)
    if as_json:
        print_json({"stopped": stopped, "state_dir": str(cfg.state_dir)})
    else:
        print("stopped" if stopped else f"not running (state dir {cfg.state_dir})")


def _embedded_only(cfg: Config, verb: str) -> Config:
    if cfg.url:
        fail(USAGE, f"the config names a server ({mask_url(cfg.url)}); taskora does not {verb} "
             "that one, only the embedded server used when no url is set")  # fmt: skip
    return cfg


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
