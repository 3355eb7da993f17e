"""Rewrite the job hashes an older layout wrote into this one's (``taskora server migrate``).

Layouts 2 and 3 differ from this code's only in a job hash's field names and a waiting job's
state (keys.py, WIRE_VERSION), so a server of theirs is taken over in place: every job hash
under this prefix (``<base>:{<task>}:j:<id>``, found in one SCAN of every master, whatever
the task registry says) is rewritten by ``wire_rewrite_jobs``, a batch of one task's ids a
call (one slot on a cluster), before ``wire_migrate`` moves the meta record on. A rewrite is a
no-op on a job already in this layout, so a migration stopped half-way runs again from the
start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import keys as k

if TYPE_CHECKING:
    from .runner import Runner

BATCH = 500
"""Job ids per script call: a bounded stretch of server time each."""

_GLOB_SPECIAL = str.maketrans({c: "\\" + c for c in "*?[]\\"})


class JobRewriter:
    """Rewrites job hashes of an older layout into this code's (see the module's text)."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    async def rewrite_all(self) -> int:
        """Rewrite every job hash under this prefix; how many changed. The runner's redis-py
        client walks the keyspace: its ``scan_iter`` covers every master of a cluster."""
        client: Any = self.runner.client
        base = k.base(self.runner.prefix)
        pattern = base.translate(_GLOB_SPECIAL) + ":{*}:j:*"
        batches: dict[str, list[str]] = {}
        rewritten = 0
        async for key in client.scan_iter(match=pattern, count=1000, _type="hash"):
            # the task's prefix ends at the first "}:j:" after its tag opens (a task name
            # holds no brace: names.check_task_name)
            end = key.index("}:j:", len(base) + 2) + 2
            tag, job_id = key[:end], key[end + 2 :]
            batch = batches.setdefault(tag, [])
            batch.append(job_id)
            if len(batch) >= BATCH:
                rewritten += await self.rewrite(tag, batch)
                batch.clear()
        for tag, batch in batches.items():
            if batch:
                rewritten += await self.rewrite(tag, batch)
        return rewritten

    async def rewrite(self, tag: str, ids: list[str]) -> int:
        """Rewrite one batch of one task's jobs (``tag``: the task's key prefix)."""
        return int(await self.runner.run("wire_rewrite_jobs", [tag], ids))
