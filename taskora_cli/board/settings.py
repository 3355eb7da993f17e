"""What a board is configured with: its login (a session form or a hook of your own), what it
masks, whether it may change anything, and when it reports itself unhealthy."""

from __future__ import annotations

import hmac
import importlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from ..config import Config

MIN_SECRET = 32
"""The shortest cookie secret accepted: a short one can be guessed offline from one cookie."""

Authenticate = Callable[[str, str], Any]
"""``authenticate(username, password)``, plain or async: truthy lets the user in."""

AuthHook = Callable[["Request"], "Response | Awaitable[Response | None] | None"]
"""Runs on every API request (and /metrics): None lets it through, a Response answers
instead (e.g. a 401). Plain or async."""


@dataclass(frozen=True)
class SessionAuth:
    """The board's own login form and a signed, stateless session cookie.

    Attributes:
        secret: signs the cookie; at least 32 characters (``openssl rand -base64 48``).
        authenticate: ``authenticate(username, password)``, plain or async; a truthy result
            lets the user in. Hashing, rate limits and lockout are its business.
        cookie_name: the session cookie's name.
        ttl_ms: rolling expiry: a session unused this long ends (None: the cookie lasts the
            browser session, and a stolen one stays valid).

    Raises:
        ConfigError: the secret is shorter than 32 characters.
    """

    secret: str
    authenticate: Authenticate
    cookie_name: str = "taskora_board_session"
    ttl_ms: int | None = None

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_SECRET:
            raise ConfigError(
                f"the board's cookie secret must be at least {MIN_SECRET} characters, got "
                f"{len(self.secret)} (generate one with `openssl rand -base64 48`)"
            )


@dataclass(frozen=True)
class HealthThresholds:
    """When ``/healthz`` answers 503, as ``doctor --max-latency/--max-depth``."""

    max_latency_ms: int | None = None
    max_depth: int | None = None


@dataclass(frozen=True)
class BoardSettings:
    """Everything ``create_board`` takes besides the app; see there."""

    base_path: str = ""
    read_only: bool = False
    auth: SessionAuth | AuthHook | None = None
    redact: Sequence[str] = ()
    health: HealthThresholds = field(default_factory=HealthThresholds)
    stats_interval_s: float = 3.0
    title: str = "taskora"


def normalized_base(path: str) -> str:
    """ "/board/" -> "/board", "" and "/" -> "" (served at the root)."""
    path = path.strip()
    if path and not path.startswith("/"):
        path = "/" + path
    return path.rstrip("/")


def auth_from_config(config: Config) -> SessionAuth | None:
    """The session login the config asks for: ``[board] authenticate`` ("module:attr"), else
    ``user`` and ``password``, else an ``authenticate`` callable in the app's or the task
    modules; None when it asks for none.

    Raises:
        ConfigError: a login without a secret, a secret under 32 characters, or an
            ``authenticate`` that cannot be imported or is not callable.
    """
    board = config.board
    check: Authenticate | None = None
    if board.authenticate:
        check = _imported(board.authenticate)
    elif board.user or board.password:
        if not (board.user and board.password):
            raise ConfigError("the board's login needs both [board] user and password "
                              "(TASKORA_BOARD_USER, TASKORA_BOARD_PASSWORD)")  # fmt: skip
        check = _one_account(board.user, board.password)
    else:
        check = _from_modules(config)
    if check is None:
        return None
    if not board.secret:
        raise ConfigError("the board's login needs a cookie secret: set [board] secret or "
                          "TASKORA_BOARD_SECRET (`openssl rand -base64 48`)")  # fmt: skip
    return SessionAuth(board.secret, check, ttl_ms=board.session_ttl_ms)


def _one_account(user: str, password: str) -> Authenticate:
    def authenticate(username: str, given: str) -> bool:
        # both compared in constant time, so timing tells neither which one was wrong
        same_user = hmac.compare_digest(username.encode(), user.encode())
        same_password = hmac.compare_digest(given.encode(), password.encode())
        return same_user and same_password

    return authenticate


def _imported(ref: str) -> Authenticate:
    module_name, _, attr = ref.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"[board] authenticate = {ref!r}: cannot import it: {exc}") from exc
    if not callable(found):
        raise ConfigError(f"[board] authenticate = {ref!r} is not callable")
    return found  # type: ignore[no-any-return]


def _from_modules(config: Config) -> Authenticate | None:
    import sys

    names = [config.app.partition(":")[0]] if config.app else []
    for name in [*names, *config.modules]:
        module = sys.modules.get(name)
        found = getattr(module, "authenticate", None) if module is not None else None
        if callable(found):
            return found  # type: ignore[no-any-return]
    return None
