"""taskora's errors as HTTP answers: one JSON line ``{"error": message}`` with the status
that says whose mistake it was."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..documents import json_text
from ..errors import (
    DispatchRejectedError,
    JobActiveError,
    JobNotFoundError,
    NotCancellableError,
    ServerError,
    TaskoraError,
    UnknownScheduleError,
    UnknownTaskError,
    UsageError,
)
from ..urls import mask_urls_in


class NotFound(TaskoraError):
    """What a path names does not exist (a task, a queue, a workflow): 404."""


STATUS: Mapping[type[Exception], int] = {
    NotFound: 404,
    JobNotFoundError: 404,
    UnknownTaskError: 404,
    UnknownScheduleError: 404,
    NotCancellableError: 409,
    JobActiveError: 409,
    DispatchRejectedError: 409,
    UsageError: 400,
    ServerError: 503,
    TaskoraError: 500,
}
"""The most specific class listed wins (Starlette looks an error's classes up in order)."""


def _answer(status: int) -> Callable[[Request, Exception], Any]:
    async def answer(request: Request, exc: Exception) -> Response:
        body = json_text({"error": mask_urls_in(str(exc))})
        return Response(body, status_code=status, media_type="application/json")

    return answer


def handlers() -> dict[Any, Callable[[Request, Exception], Any]]:
    """Starlette's ``exception_handlers`` for taskora's errors."""
    return {kind: _answer(status) for kind, status in STATUS.items()}
