"""The one way an engine call reaches the server: a script by name, or a read on the client.

Every area of the engine (jobs in engine.py, dead letters, flow control, schedules, control,
the worker registry, the event streams) holds the same Runner, so every call shares one
script table, one key cache and one error mapping: whatever redis-py or the lean wire raises
(a dropped connection, a timeout, a refused command, a wrong-type key, a script error,
NOSCRIPT that loading again did not cure) reaches the caller as our
:class:`~taskora_cli.errors.ServerError`, mapped by :class:`~.failures.ServerLink`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, TypeVar

from redis.asyncio import Redis

from . import keys as k
from .cluster import ClusterWire
from .cluster_probe import detect_cluster
from .connection import open_client
from .failures import REPLY_TIMEOUT_S, ServerLink, kinds
from .resp import supports
from .scripts import RESENDABLE, load_script
from .steps import RunScript, SendPipeline, Steps
from .wire import Wire

T = TypeVar("T")


class Runner:
    """One server's connection for one event loop, shared by every area of the engine.

    Attributes:
        url: where the server is.
        prefix: the key prefix of this app's data.
        client: a redis-py client whose every command and pipeline raises only ServerError
            (see :mod:`.connection`): for reads and plain writes.
        wire: the lean pipelined connection scripts go over, or None where the URL needs
            redis-py (TLS): scripts then go over ``client``.
        cluster: the server is a cluster: ``client`` is redis-py's cluster client and
            ``wire`` a :class:`~.cluster.ClusterWire` (one connection per master).

    It drives the operations of :mod:`.steps` (see :meth:`drive`), as the blocking
    :class:`~.blocking_runner.BlockingRunner` does on a caller's thread.
    """

    def __init__(
        self,
        url: str,
        prefix: str = "",
        *,
        reply_timeout_s: float = REPLY_TIMEOUT_S,
        registered: set[str] | None = None,
        cluster: bool | None = None,
    ):
        self.url = url
        self.prefix = prefix
        self.reply_timeout_s = reply_timeout_s
        self.cluster = detect_cluster(url) if cluster is None else cluster
        self.link = ServerLink(url)
        """Maps a failure that escaped both connections' own mapping (see :meth:`run`)."""
        self.client: Redis = open_client(url, reply_timeout_s=reply_timeout_s, cluster=self.cluster)
        self.wire: Wire | ClusterWire | None = None
        if supports(url):
            kind = ClusterWire if self.cluster else Wire
            self.wire = kind(url, reply_timeout_s=reply_timeout_s)
        self._keys: dict[str, k.TaskKeys] = {}
        self.registered: set[str] = set() if registered is None else registered
        """Task names recorded in the registry (see steps.register_tasks)."""

    def keys(self, task: str) -> k.TaskKeys:
        """The keys of ``task`` (cached)."""
        found = self._keys.get(task)
        if found is None:
            found = self._keys[task] = k.TaskKeys(self.prefix, task)
        return found

    async def run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run script ``name`` (loading it first if the server does not hold it).

        Raises:
            ServerError: the server cannot be reached, did not answer in time, or refused
                the call (a script error, a key of the wrong type...).
        """
        script = load_script(name)  # read on first use (cached): a process runs a few of ~40
        try:
            if self.wire is not None:
                return await self.wire.evalsha(script, keys, args, resend=name in RESENDABLE)
            return await script(self.client, keys, args)  # routed by redis-py on a cluster
        except kinds().failure as exc:  # both connections map their own; this is the net
            raise self.link.error(exc) from exc

    async def drive(self, steps: Steps[T]) -> T:
        """Run an operation of :mod:`.steps`: each call it yields, its reply sent back in.

        Raises:
            ServerError: as :meth:`run`, for any of its calls.
        """
        reply: Any = None
        try:
            while True:
                call = steps.send(reply)
                if type(call) is RunScript:
                    reply = await self.run(call.name, call.keys, call.args)
                elif isinstance(call, SendPipeline):
                    reply = await self.pipeline(call.commands)
                else:
                    reply = await self.command(*call.args)
        except StopIteration as done:
            result: T = done.value
            return result

    async def command(self, *args: Any) -> Any:
        """Send one plain command that is harmless to send twice (see steps.SendCommand).

        Raises:
            ServerError: the server cannot be reached, or refused the command.
        """
        wire = self._plain_wire()
        try:
            if isinstance(wire, ClusterWire):  # steps' commands name their key first
                return await wire.call(*args, key=str(args[1]), resend=True)
            if wire is not None:
                return await wire.call(*args, resend=True)
            return as_resp(await self.client.execute_command(*args))  # type: ignore[no-untyped-call]
        except kinds().failure as exc:
            raise self.link.error(exc) from exc

    async def pipeline(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Send plain commands that are harmless to send twice in one round trip (see
        steps.SendPipeline): their replies, in order.

        Raises:
            ServerError: the server cannot be reached, or refused one of them.
        """
        if not commands:
            return []
        if self._plain_wire() is not None:
            # Every call is written at once on the pipelined connection (each routed to its
            # key's master on a cluster): one round trip, replies read in order.
            replies = await asyncio.gather(
                *(self.command(*args) for args in commands), return_exceptions=True
            )
            failed = next((r for r in replies if isinstance(r, BaseException)), None)
            if failed is not None:
                raise failed
            return replies
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for args in commands:
                    pipe.execute_command(*args)
                found: list[Any] = await pipe.execute()
        except kinds().failure as exc:
            raise self.link.error(exc) from exc
        return [as_resp(reply) for reply in found]

    def _plain_wire(self) -> Wire | ClusterWire | None:
        """The connection plain commands go over: the lean one, or redis-py's client where
        the URL needs it, or once the lean one is closed. A worker's stop closes the loop's
        engine under whoever else holds it; a read through it then connects again, as
        redis-py's client does on use (see Runtime._closed), where a script fails."""
        wire = self.wire
        return None if wire is None or wire.closed else wire


def as_resp(reply: Any) -> Any:
    """A redis-py reply as the lean wire gives it: redis-py parses some (a hash into a dict,
    a set into a set); the operations of :mod:`.steps` read RESP's flat lists."""
    if isinstance(reply, dict):
        return [item for pair in reply.items() for item in pair]
    if isinstance(reply, set):
        return list(reply)
    return reply
