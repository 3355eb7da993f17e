"""Helpers for the Lua tests: run a script by name, read back the whole keyspace."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

import redis

from taskora_cli.engine.keys import TaskKeys
from taskora_cli.engine.scripts import load_script, lua_dir

NOW = 1_700_000_000_000
T = TaskKeys("", "mail")

_HEADER_KEY = re.compile(r"^-- KEYS\[\d+\]\s+(\w+)", re.MULTILINE)
_ATTRIBUTE = {"prio": "prioritized"}


@cache
def declared_keys(name: str) -> tuple[str, ...]:
    """The names of script ``name``'s KEYS, in order, as its header declares them."""
    return tuple(_HEADER_KEY.findall((lua_dir() / f"{name}.lua").read_text()))


def completed_keys(name: str, keys: Sequence[str]) -> list[str]:
    """``keys`` followed by the KEYS a test left out, taken from ``T`` by the header's names.

    A test spells out the keys its case is about; the trailing ones it leaves out (the task's
    ``seq`` and key prefix ``tag``, the worker's ``lastclaim``, ``counts``...) are the task's
    own, as the engine passes them. Every script's KEYS must be complete: a key built in Lua
    from a missing (nil) entry would not be a declared key.
    """
    out = list(keys)
    for key_name in declared_keys(name)[len(out) :]:
        if key_name == "lastclaim":
            out.append(T.lastclaim("w1"))
        else:
            out.append(getattr(T, _ATTRIBUTE.get(key_name, key_name)))
    return out


class Lua:
    """Runs scripts by name on a real server and reads back the whole keyspace."""

    def __init__(self, client: redis.Redis) -> None:
        self.r = client

    def run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        script = load_script(name)
        full = completed_keys(name, keys) if "tag" in declared_keys(name) else list(keys)
        return self.r.eval(script.source, len(full), *full, *args)

    def snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        every: Any = {"target_nodes": redis.RedisCluster.PRIMARIES}
        options = every if isinstance(self.r, redis.RedisCluster) else {}
        for key in sorted(self.r.keys("*", **options)):
            kind = self.r.type(key)
            if kind == "string":
                out[key] = self.r.get(key)
            elif kind == "list":
                out[key] = self.r.lrange(key, 0, -1)
            elif kind == "zset":
                out[key] = [(m, int(s)) for m, s in self.r.zrange(key, 0, -1, withscores=True)]
            elif kind == "hash":
                out[key] = self.r.hgetall(key)
            elif kind == "set":
                out[key] = sorted(self.r.smembers(key))
            elif kind == "stream":
                out[key] = [fields for _, fields in self.r.xrange(key)]
        return out
