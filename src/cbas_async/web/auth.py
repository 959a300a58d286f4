"""The API's bearer-token check: every non-public request carries a valid token, whose
`TokenInfo` the handlers then read with `caller`. `/metrics` needs an admin token unless it
is made public (`CBAS_METRICS_PUBLIC=1`). Refused tokens count against the client's address
(`web/signin_limit.py`). Tokens themselves live in `web/tokens.py`, and never reach a log:
a refusal logs the path and the address, not what was sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware

from cbas_async.web.signin_limit import SignInLimiter
from cbas_async.web.tokens import KEY_PREFIX, TokenInfo, TokenStore, hash_secret

__all__ = ["KEY_PREFIX", "TokenStore", "auth_middleware", "caller", "hash_secret"]

log = structlog.get_logger(__name__)

# routes any client may call: probes, SNS, and the UI's static shell (no data)
PUBLIC_PATHS = frozenset({"/healthz", "/sns", "/", "/favicon.ico"})
PUBLIC_PREFIXES = ("/static/",)
METRICS_PATH = "/metrics"
CALLER = web.RequestKey("caller", TokenInfo)  # the token the request was verified with


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def unauthorized(message: str) -> web.Response:
    return web.json_response(
        {"error": message, "errors": []},
        status=401,
        headers={"WWW-Authenticate": 'Bearer realm="cbas"'},
    )


def caller(request: web.Request) -> TokenInfo:
    """The token the request was verified with (set by the middleware)."""
    try:
        return request[CALLER]
    except KeyError:
        raise web.HTTPUnauthorized(reason="no verified token") from None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def too_many(retry_after_s: int) -> web.Response:
    return web.json_response(
        {"error": "too many refused tokens from this address; try again later", "errors": []},
        status=429,
        headers={"Retry-After": str(retry_after_s)},
    )


def auth_middleware(
    tokens: TokenStore, *, metrics_public: bool = False, limiter: SignInLimiter | None = None
) -> Middleware:
    """Refuse every non-public request without a valid bearer token, before its handler runs;
    `/metrics` also wants the token to be an admin's, unless `metrics_public`. With a
    `limiter`, an address with too many refused tokens gets 429 before its token is read."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_public(request.path) or (metrics_public and request.path == METRICS_PATH):
            return await handler(request)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return unauthorized("missing bearer token (Authorization: Bearer <token>)")
        address = request.remote or "-"
        wait_s = limiter.retry_after_s(address) if limiter else None
        if wait_s is not None:
            log.warning("api_sign_in_limited", path=request.path, client=address)
            return too_many(wait_s)
        info = await tokens.verify(token.strip())
        if info is None:
            log.warning("api_token_refused", path=request.path, client=address)
            if limiter:
                limiter.failed(address)
            return unauthorized("invalid bearer token")
        if request.path == METRICS_PATH and not info.is_admin:
            return web.json_response({"error": "needs an admin token", "errors": []}, status=403)
        request[CALLER] = info
        return await handler(request)

    return middleware
