"""What happens when the server cannot be reached or refuses a command: the one place that
sets the connection timeouts, restarts a dead embedded server, tells what a failure means (an
outage to ride out, a refusal to report, a script to load) and turns it into ours (a caller of
the library never sees a ``redis.*`` or :mod:`.wire_errors` exception).

Both connections the engine uses go through here: the lean ones (:mod:`.wire`,
:mod:`.blocking_wire`, which raise :mod:`.wire_errors`' types) and the redis-py clients of
:mod:`.connection`. redis-py is not imported here: a process that only uses the lean
connection (a one-shot ``taskora dispatch``) never loads it, and until it is loaded none of
its exceptions can exist (see :func:`kinds`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from ..errors import ServerError
from ..urls import mask_url
from . import embedded
from .wire_errors import (
    AskRedirect,
    ClusterBusy,
    LinkDown,
    LinkTimeout,
    LoginRefused,
    NoScriptReply,
    PermissionRefused,
    WireError,
)

if TYPE_CHECKING:
    from redis.backoff import ExponentialBackoff

T = TypeVar("T")

CONNECT_TIMEOUT_S = 5.0
"""Opening a connection: a host that does not answer within this is unreachable."""

REPLY_TIMEOUT_S = 10.0
"""A reply to a non-blocking command: later than this, the server is taken for gone (our
scripts run in milliseconds; a server that stalls for 10 s is not serving anyway)."""

SILENCE_PROBE_S = 1.0
"""A connection with a call in flight that has heard nothing for this long (past the block
time, for a blocking command) is checked: the server is asked PING on a fresh connection, and
if it answers while this one stays silent, this one is half-open (a peer or NAT that vanished
without a FIN or RST) and is dropped, in about a second rather than at the reply timeout."""

PROBE_TIMEOUT_S = 1.0
"""How long that PING (connect, login and reply) may take; later, the probe tells nothing
(the network is still out, or the server stalls) and the reply timeout stays the judge."""

BLOCK_MARGIN_S = 5.0
"""A blocking command (BZPOPMIN, XREAD BLOCK) is given its block time plus this."""

MAX_BLOCK_S = 5.0
"""The longest a blocking redis-py client waits in one command (its callers block for less):
its socket timeout is this plus BLOCK_MARGIN_S on top of REPLY_TIMEOUT_S."""

RECONNECT_ATTEMPTS = 6
"""Retries of a call whose connection broke, with `backoff()`: ~2.3 s, which rides out a quick
server restart (`taskora server stop` then `start`, a failover). Longer is an outage: the
embedded server is then restarted if it died, any other reported as ServerError rather than
holding every caller for long (a worker retries on its own)."""


RECONNECT_WINDOW_S = 3.0
"""One call's deadline is its reply timeout plus this: the reconnect attempts of a call that
could not be sent stop here, so a hung or dead server fails a call in seconds, not minutes."""


BACKOFF_BASE_S = 0.02
BACKOFF_CAP_S = 1.0


def backoff_s(failures: int) -> float:
    """The wait after the ``failures``-th failure to reach the server: 40 ms doubling up to
    1 s (what redis-py's ExponentialBackoff of :func:`backoff` computes)."""
    return min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** min(failures, 64))


def backoff() -> ExponentialBackoff:
    """The wait between reconnect attempts of the redis-py clients: as :func:`backoff_s`."""
    from redis.backoff import ExponentialBackoff

    return ExponentialBackoff(cap=BACKOFF_CAP_S, base=BACKOFF_BASE_S)


Kinds = tuple[type[BaseException], ...]


class FailureKinds(NamedTuple):
    """The exception classes of each kind of failure: the lean connections' and, once
    redis-py is loaded, its own."""

    failure: Kinds
    """Anything that went wrong talking to the server (with OSError)."""
    failure_or_ours: Kinds
    """A failure, or our ServerError (what the connections raise once they mapped one)."""
    link: Kinds
    """The connection broke or could not be opened (retried with backoff)."""
    timeout: Kinds
    """No reply in time."""
    login_refused: Kinds
    """A login (or a command) refused for the user: trying again will not help."""
    no_permission: Kinds
    """NOPERM: the user logged in but lacks a command, key or channel (a login_refused)."""
    no_script: Kinds
    """NOSCRIPT: the script must be loaded."""
    passed_through: Kinds
    """Replies :meth:`ServerLink.guard` leaves to its caller: a script to load (NOSCRIPT),
    and a cluster's redirections (MOVED, ASK) and refusals while it settles (TRYAGAIN,
    CLUSTERDOWN), which the cluster wire follows (see cluster.ClusterWire)."""


_LEAN = FailureKinds(
    failure=(WireError, OSError),
    failure_or_ours=(WireError, OSError, ServerError),
    link=(LinkDown, OSError),
    timeout=(LinkTimeout, TimeoutError),
    login_refused=(LoginRefused,),
    no_permission=(PermissionRefused,),
    no_script=(NoScriptReply,),
    passed_through=(NoScriptReply, AskRedirect, ClusterBusy),
)
_with_redis: FailureKinds | None = None


def kinds() -> FailureKinds:
    """The exception classes of each kind of failure, for ``isinstance`` and ``except``
    (evaluated when an exception is matched, so redis-py's join once it is loaded)."""
    global _with_redis
    if _with_redis is not None:
        return _with_redis
    rex = sys.modules.get("redis.exceptions")
    if rex is None or not hasattr(rex, "ClusterDownError"):  # not loaded (or half-way)
        return _LEAN
    _with_redis = FailureKinds(
        failure=(*_LEAN.failure, rex.RedisError),
        failure_or_ours=(*_LEAN.failure_or_ours, rex.RedisError),
        link=(*_LEAN.link, rex.ConnectionError),
        timeout=(*_LEAN.timeout, rex.TimeoutError),
        login_refused=(
            *_LEAN.login_refused,
            rex.AuthenticationError,
            rex.AuthorizationError,
            rex.NoPermissionError,
        ),
        no_permission=(*_LEAN.no_permission, rex.NoPermissionError),
        no_script=(*_LEAN.no_script, rex.NoScriptError),
        passed_through=(
            *_LEAN.passed_through,
            rex.NoScriptError,
            rex.AskError,
            rex.TryAgainError,
            rex.ClusterDownError,
        ),
    )
    return _with_redis


_TLS_REFUSAL = r"\[SSL: [A-Z0-9_]*(CERTIFICATE|UNKNOWN_CA|WRONG_VERSION|HANDSHAKE)"


def is_tls_refusal(error: BaseException) -> bool:
    """A TLS handshake one side refused (an unknown CA, a missing or rejected client
    certificate, TLS spoken to a plain port): unlike a dropped TLS connection, trying again
    will not help. redis-py wraps the ssl error in its ConnectionError's message."""
    ssl = sys.modules.get("ssl")  # not loaded: no TLS connection was made
    if ssl is not None and isinstance(error, ssl.SSLCertVerificationError):
        return True
    return bool(re.search(_TLS_REFUSAL, str(error)))


def is_outage(error: BaseException) -> bool:
    """The server is unreachable (or stopped answering), as opposed to refusing the command;
    a refused login is a ConnectionError to redis-py too, but trying again will not help."""
    known = kinds()
    if isinstance(error, known.login_refused) or is_tls_refusal(error):
        return False
    return isinstance(error, known.link + known.timeout)


_SCRIPT_COMMAND_REFUSED = "user executing the script can't run this command"
"""How Redis 7 words a command an ACL user lacks, refused inside a script (Valkey says "ACL
failure in script: ... no permissions to run the 'x' command")."""

_ACL_COMMAND = r"no permissions to run the '([^']+)' command"

ACL_HELP = (
    "the README's 'Passwords, ACL users and TLS' section lists the smallest ACL taskora needs "
    "(ACL SETUSER taskora on >SECRET ~taskora:* &taskora:* -@all +@read +@write +@scripting "
    "+@pubsub +@connection +@transaction -@dangerous +info +time)"
)


def acl_refusal(error: BaseException) -> str | None:
    """What an ACL user was refused (NOPERM, or an ACL failure inside a script) and how to
    grant it, or None for any other error. The login went through: the user lacks a command,
    or a key or channel outside its patterns."""
    text = str(error)
    in_script = text.startswith("ACL failure in script") or _SCRIPT_COMMAND_REFUSED in text
    if not isinstance(error, kinds().no_permission) and not in_script:
        return None
    command = re.search(_ACL_COMMAND, text)
    if command is None and _SCRIPT_COMMAND_REFUSED in text:  # Redis 7 names no command
        return (
            f"a command inside a taskora script to this ACL user ({text}); grant the user "
            f"taskora's commands: {ACL_HELP}"
        )
    if command is not None:
        name = command.group(1)
        return (
            f"the command {name.upper()} to this ACL user ({text}); grant it to the user "
            f"(ACL SETUSER <user> +{name.lower()}): {ACL_HELP}"
        )
    return (
        f"this ACL user a key or channel outside its patterns ({text}); grant taskora's keys "
        f"and channels (ACL SETUSER <user> ~taskora:* &taskora:*, whatever the prefix): {ACL_HELP}"
    )


class ServerLink:
    """The server behind one URL, and what a failure to reach it means.

    A URL that :func:`~.embedded.ensure_embedded` handed out in this process is the embedded
    server: it is restarted when found dead (every local process may race to do it; the
    state directory's lock lets one start it). Any other URL is the operator's server:
    it is reported, naming the URL (masked) and what to check.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.shown = mask_url(url)
        self.state_dir: Path | None = embedded.state_dir_of(url)
        self.closed = False
        """Its connection was closed on purpose: a failure then is no reason to restart."""

    async def recover(self, error: BaseException) -> bool:
        """After an outage: restart the embedded server if it died (off the event loop); True
        when a retry may now succeed.

        Raises:
            EmbeddedServerError: it was stopped on purpose, or did not start again.
        """
        if not self.may_restart(error):
            return False
        import asyncio

        await asyncio.to_thread(self.restart_if_dead, error)
        return True

    def may_restart(self, error: BaseException) -> bool:
        """Whether ``error`` may mean the embedded server died (so restarting it may help)."""
        if self.state_dir is None or not is_outage(error):
            return False
        # A timeout: it is there but does not answer (paused, swapping): not dead.
        return not isinstance(error, kinds().timeout)

    def restart_if_dead(self, error: BaseException) -> bool:
        """The blocking :meth:`recover`: restart the embedded server if ``error`` says it may
        have died and it did; True when a retry may now succeed.

        Raises:
            EmbeddedServerError: it was stopped on purpose, or did not start again.
            ServerError: its state directory is unusable.
        """
        if not self.may_restart(error):
            return False
        assert self.state_dir is not None
        try:
            embedded.restart_embedded(self.state_dir)
        except OSError as exc:  # its state directory: unwritable, full, a file turned folder
            raise ServerError(
                f"the embedded server for {self.state_dir} is down and could not be started "
                f"again ({exc}); fix the state directory, then `taskora server start`"
            ) from exc
        return True

    def error(self, error: BaseException) -> ServerError:
        """Our exception for a failure (a redis-py or lean-connection one, or an OSError) while
        talking to the server."""
        if isinstance(error, ServerError):
            return error
        refusal = acl_refusal(error)
        if refusal is not None:
            return ServerError(f"the server at {self.shown} refused {refusal}")
        if isinstance(error, kinds().login_refused):
            return ServerError(
                f"the server at {self.shown} refused the login ({error}); "
                "check the user and password in the URL"
            )
        if is_tls_refusal(error):
            return ServerError(
                f"the TLS handshake with {self.shown} failed ({error}); check the [tls] ca, "
                "cert and key files (TASKORA_TLS_CA, TASKORA_TLS_CERT, TASKORA_TLS_KEY) and that "
                "the server's certificate names this host"
            )
        if is_outage(error):
            return ServerError(
                f"cannot reach the server at {self.shown} ({error}); check that it runs and "
                "that the URL (url in taskora.toml, or TASKORA_URL) points at it"
            )
        return ServerError(f"the server at {self.shown} refused a command: {error}")

    def maybe_ran(self, error: BaseException) -> ServerError:
        """A call that reached the server but got no reply: it may or may not have run, so it
        is not sent again (the caller decides; a job id or request id makes that safe)."""
        if isinstance(error, kinds().timeout):
            what = "did not answer in time"
        else:
            what = f"dropped the connection ({error})"
        return ServerError(
            f"the server at {self.shown} {what}; the last command may or may not have run. "
            "Check that it runs and is not overloaded (taskora doctor), then retry"
        )

    async def guard(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run ``attempt`` (which does its own reconnect retries); after an outage restart the
        embedded server and try once more; raise every failure as ServerError.

        NOSCRIPT passes through unchanged: the script runner loads the script and retries
        (and maps it with :meth:`error` if the retry finds it unknown again).
        """
        try:
            return await attempt()
        except kinds().passed_through:
            raise
        except kinds().failure as exc:
            if self.closed or not await self.recover(exc):
                raise self.error(exc) from exc
        try:
            return await attempt()
        except kinds().passed_through:
            raise
        except kinds().failure as exc:
            raise self.error(exc) from exc

    def guard_blocking(self, attempt: Callable[[], T]) -> T:
        """The blocking :meth:`guard`, for a connection used on the caller's thread."""
        try:
            return attempt()
        except kinds().no_script:
            raise
        except kinds().failure as exc:
            if self.closed or not self.restart_if_dead(exc):
                raise self.error(exc) from exc
        try:
            return attempt()
        except kinds().no_script:
            raise
        except kinds().failure as exc:
            raise self.error(exc) from exc
