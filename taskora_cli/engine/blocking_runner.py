"""Operations of :mod:`.steps` run from plain code on the caller's own thread.

A blocking call used to hand its coroutine to the background event loop and wait: two thread
switches and a loop turn per call, half of a dispatch's time. A :class:`BlockingRunner` sends
the same calls over a blocking lean connection (:class:`.blocking_wire.BlockingWire`) on the
calling thread instead. :class:`Connections` gives each thread of each process its own (a
connection carries one call at a time, and a forked child must never write to the socket it
inherited from its parent).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..fork_safe import ForkSafeLock
from . import keys as k
from . import steps
from .blocking_wire import BlockingWire
from .failures import REPLY_TIMEOUT_S, ServerLink, kinds
from .scripts import RESENDABLE, load_script

T = TypeVar("T")

_generation = 0
"""Bumped in a forked child: a runner made before the fork belongs to the parent."""

_inherited: weakref.WeakSet[BlockingWire] = weakref.WeakSet()
"""Every blocking connection of this process: a forked child closes its copies at once."""


def _after_fork_in_child() -> None:
    global _generation
    _generation += 1
    for wire in list(_inherited):
        wire.close()  # this process's copy only: the parent's connection stays open
    _inherited.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


class BlockingRunner:
    """One thread's connection to the server, driving :mod:`.steps` operations there.

    Attributes:
        prefix: the key prefix of this app's data.
        registered: task names recorded in the registry (shared with the runtime's engines).
    """

    def __init__(
        self,
        url: str,
        prefix: str,
        registered: set[str],
        *,
        reply_timeout_s: float = REPLY_TIMEOUT_S,
    ) -> None:
        self.prefix = prefix
        self.registered = registered
        self.wire = BlockingWire(url, reply_timeout_s=reply_timeout_s)
        self.generation = _generation
        self._link = ServerLink(url)
        self._keys: dict[str, k.TaskKeys] = {}
        _inherited.add(self.wire)
        # A thread that ends drops its runner (threading.local): its socket goes with it.
        weakref.finalize(self, self.wire.close)

    @property
    def current(self) -> bool:
        """False in a process forked after this runner was made (it is the parent's)."""
        return self.generation == _generation

    def keys(self, task: str) -> k.TaskKeys:
        """The keys of ``task`` (cached)."""
        found = self._keys.get(task)
        if found is None:
            found = self._keys[task] = k.TaskKeys(self.prefix, task)
        return found

    def drive(self, operation: steps.Steps[T]) -> T:
        """Run ``operation``: each call it yields, its reply sent back in.

        Raises:
            ServerError: the server cannot be reached, did not answer in time, or refused a
                call.
        """
        reply: Any = None
        try:
            while True:
                call = operation.send(reply)
                if type(call) is steps.RunScript:
                    reply = self.run(call.name, call.keys, call.args)
                elif isinstance(call, steps.SendPipeline):
                    reply = self.pipeline(call.commands)
                else:
                    reply = self.command(*call.args)
        except StopIteration as done:
            result: T = done.value
            return result

    def run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run script ``name`` (loading it first if the server does not hold it).

        Raises:
            ServerError: as :meth:`drive`.
        """
        script = load_script(name)  # read on first use (cached)
        try:
            return self.wire.evalsha(script, keys, args, resend=name in RESENDABLE)
        except kinds().failure as exc:  # the wire maps its own; this is the net
            raise self._link.error(exc) from exc

    def command(self, *args: Any) -> Any:
        """Send one plain command that is harmless to send twice (see steps.SendCommand).

        Raises:
            ServerError: as :meth:`drive`.
        """
        try:
            return self.wire.call(*args, resend=True)
        except kinds().failure as exc:
            raise self._link.error(exc) from exc

    def pipeline(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Send plain commands that are harmless to send twice in one round trip (see
        steps.SendPipeline): their replies, in order.

        Raises:
            ServerError: as :meth:`drive`.
        """
        if not commands:
            return []
        try:
            return self.wire.call_many(commands, resend=True)
        except kinds().failure as exc:
            raise self._link.error(exc) from exc

    def close(self) -> None:
        """Close the connection."""
        self.wire.close()


class Connections:
    """A :class:`BlockingRunner` per thread (per process) for one server and prefix; each
    checks the server's wire format on its first connection.

    Args:
        url: the server.
        prefix: the key prefix.
        registered: the runtime's set of task names recorded in the registry.
        now_ms: the clock the handshake records the time with.
    """

    def __init__(
        self, url: str, prefix: str, registered: set[str], now_ms: Callable[[], int]
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.registered = registered
        self._now_ms = now_ms
        self._local = threading.local()
        self._lock = ForkSafeLock()  # a child forked while another thread holds it needs it
        self._runners: weakref.WeakSet[BlockingRunner] = weakref.WeakSet()

    def runner(self) -> BlockingRunner:
        """This thread's runner, connecting on first use (and again in a forked child).

        Raises:
            ServerError: the server cannot be reached.
            WireFormatError: the server holds an incompatible layout.
        """
        found: BlockingRunner | None = getattr(self._local, "runner", None)
        if found is not None and found.current:
            return found
        fresh = BlockingRunner(self.url, self.prefix, self.registered)
        try:
            fresh.drive(steps.handshake(self.prefix, self._now_ms()))
        except BaseException:
            fresh.close()
            raise
        with self._lock:
            self._runners.add(fresh)
        self._local.runner = fresh
        return fresh

    def close(self) -> None:
        """Close every thread's connection (a call in flight on one fails with ServerError)."""
        with self._lock:
            runners, self._runners = list(self._runners), weakref.WeakSet()
        for runner in runners:
            runner.close()
