"""API errors as JSON: `{"error": message, "errors": [{"field", "problem"}]}` with a status.

One middleware translates the product's exceptions at the HTTP edge, so handlers raise
`JobNotFound`, `InvalidSpec` or `ApiError` and never build error responses themselves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import structlog
from aiohttp import web

from cbas_async.errors import (
    CloudUnreachable,
    IllegalTransition,
    InvalidSpec,
    JobNotFound,
    StaleWrite,
    TransientError,
)

log = structlog.get_logger(__name__)

API_PREFIX = "/api/"


class ApiError(Exception):
    """A request the API refuses: HTTP `status`, a message, and the field at fault if any."""

    def __init__(self, status: int, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def error_response(
    status: int, message: str, errors: Sequence[tuple[str, str]] = ()
) -> web.Response:
    body = {"error": message, "errors": [{"field": f, "problem": p} for f, p in errors]}
    return web.json_response(body, status=status)


def _translate(exc: Exception) -> web.Response | None:
    match exc:
        case ApiError():
            errors = [(exc.field, exc.message)] if exc.field is not None else []
            return error_response(exc.status, exc.message, errors)
        case JobNotFound():
            return error_response(404, str(exc))
        case InvalidSpec():
            return error_response(400, "invalid job spec", exc.errors)
        case StaleWrite() | IllegalTransition():
            return error_response(409, str(exc))
        case TransientError() | CloudUnreachable():
            return error_response(503, f"try again: {exc}")
        case web.HTTPException() if exc.status >= 400:
            return error_response(exc.status, exc.reason)
    return None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """JSON errors for every `/api/` request; other paths keep aiohttp's behaviour."""
    if not request.path.startswith(API_PREFIX):
        return await handler(request)
    try:
        return await handler(request)
    except Exception as exc:  # the per-request boundary
        response = _translate(exc)
        if response is None:
            if isinstance(exc, web.HTTPException):
                raise
            log.exception("api_request_failed", path=request.path, method=request.method)
            return error_response(500, "internal error")
        return response
