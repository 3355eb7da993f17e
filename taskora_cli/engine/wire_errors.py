"""What the lean connections (:mod:`.wire`, :mod:`.blocking_wire`) raise: our own exception
types, so a one-shot command that only needs the lean connection never imports redis-py.

They mirror the kinds of redis.exceptions that matter to us (a connection that broke, a reply
that did not come, an error reply and the codes we act on). What each kind means (an outage
to ride out, a refusal to report, a script to load) is decided in one place for these and
redis-py's alike: :mod:`.failures`. Like redis-py's, they never reach a library caller: the
connections turn them into our ServerError there.
"""

from __future__ import annotations


class WireError(Exception):
    """A lean connection's failure (redis-py's RedisError)."""


class LinkDown(WireError):
    """The connection could not be opened, or broke (redis-py's ConnectionError)."""


class LinkTimeout(WireError):
    """The server sent no reply, or did not accept the connection, in time (redis-py's
    TimeoutError)."""


class ErrorReply(WireError):
    """The server answered with an error (redis-py's ResponseError): WRONGTYPE, ERR..."""


class NoScriptReply(ErrorReply):
    """NOSCRIPT: the server does not hold the script (EVALSHA loads it and tries again)."""


class LoadingReply(LinkDown, ErrorReply):
    """LOADING: the server is reading its data at start-up: an outage to wait out."""


class TooManyClients(LinkDown, ErrorReply):
    """The server holds as many clients as it accepts: an outage to wait out."""


class LoginRefused(ErrorReply):
    """NOAUTH, WRONGPASS, NOPERM or a refused password: trying again will not help."""


class PermissionRefused(LoginRefused):
    """NOPERM: the login went through, but the ACL user lacks a command, key or channel."""


class AskRedirect(ErrorReply):
    """ASK: a cluster slot is migrating; the call goes once to the node named, after ASKING.

    Attributes:
        slot_id: the slot.
        host: the node's host.
        port: the node's port.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        slot, _, node = message.partition(" ")
        host, _, port = node.rpartition(":")
        self.slot_id = int(slot)
        self.host = host
        self.port = int(port)


class MovedRedirect(AskRedirect):
    """MOVED: the slot lives on the node named for good (the slot map is read again)."""


class ClusterBusy(ErrorReply):
    """TRYAGAIN or CLUSTERDOWN: a cluster refuses the call while it settles."""


ERROR_CODES: dict[str, type[ErrorReply]] = {
    "NOSCRIPT": NoScriptReply,
    "LOADING": LoadingReply,
    "NOAUTH": LoginRefused,
    "WRONGPASS": LoginRefused,
    "NOPERM": PermissionRefused,
    "MOVED": MovedRedirect,
    "ASK": AskRedirect,
    "TRYAGAIN": ClusterBusy,
    "CLUSTERDOWN": ClusterBusy,
}
"""Error replies by their first word: the codes whose kind matters to us. Any other reply
(WRONGTYPE, READONLY, OOM, ERR...) is a plain ErrorReply."""

ERR_MESSAGES: dict[str, type[ErrorReply]] = {
    "max number of clients reached": TooManyClients,
    "invalid password": LoginRefused,
    "Client sent AUTH, but no password is set": LoginRefused,
    "AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?": LoginRefused,
}
"""``ERR`` replies told apart by their whole message (servers older than WRONGPASS)."""


def reply_error(message: str) -> ErrorReply:
    """Our exception for this error reply; its message as redis-py words it (without the code
    for a kind it tells apart, or for the generic ERR; whole otherwise)."""
    code, _, rest = message.partition(" ")
    if code == "ERR":
        return ERR_MESSAGES.get(rest, ErrorReply)(rest)
    kind = ERROR_CODES.get(code)
    return ErrorReply(message) if kind is None else kind(rest)
