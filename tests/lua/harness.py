"""Helpers for the Lua tests: run a script by name, read back the whole keyspace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from taskora_cli.engine.keys import TaskKeys
from taskora_cli.engine.scripts import load_script

NOW = 1_700_000_000_000
T = TaskKeys("", "mail")


class Lua:
    """Runs scripts by name on a real server and reads back the whole keyspace."""

    def __init__(self, client: redis.Redis) -> None:
        self.r = client

    def run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        script = load_script(name)
        return self.r.eval(script.source, len(keys), *keys, *args)

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
