"""Load the Lua scripts of the top-level ``lua/`` folder and call them by SHA.

Each script is read once, its ``--@include`` lines spliced in, and called with EVALSHA; a
NOSCRIPT reply (after SCRIPT FLUSH or a server restart) loads it again transparently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import ServerError
from .failures import kinds
from .sha1 import sha1

if TYPE_CHECKING:
    from redis.asyncio import Redis

_INCLUDE = re.compile(r"^--@include (\S+)\s*$", re.MULTILINE)

SCRIPT_NAMES = (
    "handshake",
    "wire_migrate",
    "wire_fence",
    "wire_rewrite_jobs",
    "enqueue",
    "enqueue_delayed",
    "enqueue_bulk",
    "enqueue_deduplicated",
    "enqueue_throttled",
    "enqueue_debounced",
    "collect_push",
    "collect_flush",
    "claim",
    "ack_and_claim",
    "ack_and_advance",
    "fail_and_claim",
    "extend_lock",
    "nack",
    "defer",
    "stall_sweep",
    "release_worker",
    "cancel",
    "retry_dead",
    "purge_dead",
    "request_drain",
    "worker_beat",
    "scheduler_tick",
    "scheduler_release",
    "schedule_register",
    "schedule_claim",
    "schedule_settle",
    "schedule_skip",
    "schedule_pause",
    "schedule_resume",
    "schedule_remove",
    "schedule_triggered",
    "publish_contract",
    "workflow_create",
    "workflow_node_done",
    "workflow_node_failed",
    "workflow_cancel",
    "workflow_nodes_enqueued",
    "delete_job",
    "purge_finished",
    "pause_job",
    "resume_job",
    "leader_keep",
    "leader_release",
)
"""Every state-transition script, named after its file in ``lua/``; part of the wire contract."""

RESENDABLE = frozenset(
    {
        "handshake",
        "wire_migrate",
        "wire_fence",
        "wire_rewrite_jobs",
        "enqueue",
        "enqueue_delayed",
        "enqueue_bulk",
        "enqueue_deduplicated",
        "enqueue_throttled",
        "claim",
        "ack_and_claim",
        "ack_and_advance",
        "fail_and_claim",
        "extend_lock",
        "worker_beat",
        "publish_contract",
        "collect_flush",
        "workflow_create",
        "workflow_node_done",
        "workflow_node_failed",
        "workflow_nodes_enqueued",
    }
)
"""Scripts that may run twice for one call with the same outcome (a claim by its request id,
an enqueue by finding its own job, the others by what they write): the wire sends them again
after a dropped connection, never after a reply timeout. Not here: collect_push (a rerun would
push the item twice) and enqueue_debounced (it replaces the waiting job), so a connection
dropped under them is a ServerError that says the call may or may not have run."""


@cache
def lua_dir() -> Path:
    """The folder holding the scripts: inside the wheel, or the repository's ``lua/``."""
    packaged = Path(__file__).resolve().parent.parent / "lua"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent.parent / "lua"


def _expand(
    text: str, folder: Path, seen: frozenset[str] = frozenset(), done: set[str] | None = None
) -> str:
    """Splice the ``--@include`` lines in; a file included once already (a lib that two libs
    of one script include, as lib/data.lua) is spliced in once, at its first include."""
    done = set() if done is None else done

    def splice(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in seen:
            raise ValueError(f"lua include cycle at {name}")
        if name in done:
            return ""
        done.add(name)
        return _expand((folder / name).read_text(), folder, seen | {name}, done)

    return _INCLUDE.sub(splice, text)


class Script(NamedTuple):
    """One loaded script: its name, full source and SHA1 (a NamedTuple: a dataclass costs
    every command half a millisecond to build at import)."""

    name: str
    source: str
    sha: str

    async def __call__(self, client: Redis, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except kinds().no_script:
            await client.script_load(self.source)
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except kinds().no_script as exc:  # the server restarted again in between: give up
            link = getattr(client, "link", None)  # our clients know their (masked) URL
            raise self.unknown(link.shown if link is not None else None) from exc

    def unknown(self, server: str | None) -> ServerError:
        """The error for a script the server does not hold even right after loading it."""
        where = f" at {server}" if server else ""
        return ServerError(
            f"the server{where} does not hold script {self.name!r} even after loading it "
            "(did it restart again?); retry"
        )


@cache
def load_script(name: str) -> Script:
    """Read, expand and hash one script from ``lua/<name>.lua``."""
    folder = lua_dir()
    source = _expand((folder / f"{name}.lua").read_text(), folder)
    return Script(name, source, sha1(source.encode()).hexdigest())


def all_scripts() -> dict[str, Script]:
    """Every script in SCRIPT_NAMES, loaded."""
    return {name: load_script(name) for name in SCRIPT_NAMES}
