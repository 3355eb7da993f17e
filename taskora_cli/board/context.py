"""What every part of one board shares: the app, its settings, and the one way a JSON
document leaves (redacted, serialized as the CLI's --json)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from ..documents import json_text
from .redaction import Redactor

if TYPE_CHECKING:
    from ..app_client import AppClient
    from .settings import BoardSettings


@dataclass
class BoardContext:
    """One board's app, settings and redactor."""

    app: AppClient
    settings: BoardSettings
    redact: Redactor

    def json(self, document: Any, status: int = 200) -> Response:
        """``document`` as the API's answer: redacted, then the CLI's JSON."""
        return Response(
            json_text(self.redact(document)),
            status_code=status,
            media_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    def error(self, status: int, message: str) -> Response:
        """An API error: ``{"error": message}``."""
        return self.json({"error": message}, status)

    def prefix(self, request: Request) -> str:
        """Where the board's pages are, as the browser sees them: the path it is mounted at
        (a host app's mount, then ``base_path``)."""
        return str(request.scope.get("taskora.board.root", "")) + self.settings.base_path
