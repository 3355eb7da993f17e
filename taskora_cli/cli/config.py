"""``taskora config``: the effective configuration, and where each value came from."""

from __future__ import annotations

from .common import load, print_json
from .options import ConfigOption, JsonOption


def show_config(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Print the effective configuration as TOML, with the source of every value."""
    from ..config import config_to_toml

    cfg = load(config)
    if as_json:
        import tomllib

        values = tomllib.loads(config_to_toml(cfg))
        print_json({"file": str(cfg.path) if cfg.path else None, "values": values,
                    "sources": cfg.sources})  # fmt: skip
        return
    print(f"# config file: {cfg.path or '(none found; defaults and environment only)'}")
    print(config_to_toml(cfg), end="")
    print("\n# where each value came from:")
    width = max(len(name) for name in cfg.sources)
    for name, source in cfg.sources.items():
        print(f"#   {name:<{width}}  {source}")
