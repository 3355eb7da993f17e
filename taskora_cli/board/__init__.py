"""The board: a web dashboard, REST API, live events and Prometheus metrics for a taskora app.

``from taskora_cli.board import create_board`` imports Starlette; ``import taskora_cli`` never
does.
"""

from .app import create_board
from .redaction import MASK
from .settings import AuthHook, HealthThresholds, SessionAuth, auth_from_config

__all__ = [
    "MASK",
    "AuthHook",
    "HealthThresholds",
    "SessionAuth",
    "auth_from_config",
    "create_board",
]
