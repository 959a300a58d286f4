"""Bearer tokens for the API: created once, stored hashed in `misc`, checked in constant time.

A token reads `cbas_<id>_<secret>`. `misc` keeps `api-token#<id>` with the SHA-256 of the
secret, never the secret itself, so a leaked table grants nothing. The secret holds 256
random bits, so a plain (fast) hash is enough: there is nothing to brute-force.

Stored hashes of tokens that verified are kept in memory for `cache_s` (30 s), so a busy
client costs no DynamoDB read per request: a token removed from `misc` stops working on a
master within that time. Unknown or wrong tokens are never cached.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware

from cbas_async.clock import Clock, utc_iso
from cbas_async.store import JobStore

log = structlog.get_logger(__name__)

KEY_PREFIX = "api-token#"
_TOKEN = re.compile(r"cbas_([0-9a-f]{12})_([A-Za-z0-9_-]{43})", re.ASCII)
_DUMMY_HASH = hashlib.sha256(b"no such token").hexdigest()

# routes any client may call: probes, Prometheus, SNS, and the UI's static shell (no data)
PUBLIC_PATHS = frozenset({"/healthz", "/metrics", "/sns", "/", "/favicon.ico"})
PUBLIC_PREFIXES = ("/static/",)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    """Creates and verifies API tokens kept in the `misc` table."""

    def __init__(
        self, *, store: JobStore, clock: Clock, cache_s: float = 30.0, cache_size: int = 1024
    ) -> None:
        self._store = store
        self._clock = clock
        self._cache_s = cache_s
        self._cache_size = cache_size
        self._cached: OrderedDict[str, tuple[str, float]] = OrderedDict()  # id -> hash, until

    async def create(self, *, name: str = "") -> str:
        """Store a new token's hash and return the token (shown once, never stored)."""
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        value = {
            "hash": hash_secret(secret),
            "name": name,
            "created_at": utc_iso(self._clock.now()),
        }
        await self._store.misc_put(KEY_PREFIX + token_id, value)
        return f"cbas_{token_id}_{secret}"

    async def verify(self, token: str) -> str | None:
        """The token's id when it is valid, else None. Equal work for unknown ids."""
        match = _TOKEN.fullmatch(token)
        token_id, secret = match.groups() if match else ("0" * 12, "")
        stored = self._from_cache(token_id) if match else None
        fetched = stored is None
        if stored is None:
            item = await self._store.misc_get(KEY_PREFIX + token_id) if match else None
            stored = str(item.get("hash", _DUMMY_HASH)) if item else None
        same = hmac.compare_digest(hash_secret(secret), stored or _DUMMY_HASH)
        if not same or stored is None:
            return None
        if fetched:
            self._remember(token_id, stored)
        return token_id

    def _from_cache(self, token_id: str) -> str | None:
        cached = self._cached.get(token_id)
        if cached is None or cached[1] <= self._clock.monotonic():
            self._cached.pop(token_id, None)
            return None
        return cached[0]

    def _remember(self, token_id: str, stored: str) -> None:
        self._cached[token_id] = (stored, self._clock.monotonic() + self._cache_s)
        self._cached.move_to_end(token_id)
        while len(self._cached) > self._cache_size:
            self._cached.popitem(last=False)


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def unauthorized(message: str) -> web.Response:
    return web.json_response(
        {"error": message, "errors": []},
        status=401,
        headers={"WWW-Authenticate": 'Bearer realm="cbas"'},
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def auth_middleware(tokens: TokenStore) -> Middleware:
    """Refuse every non-public request without a valid bearer token, before its handler runs."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_public(request.path):
            return await handler(request)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return unauthorized("missing bearer token (Authorization: Bearer <token>)")
        if await tokens.verify(token.strip()) is None:
            log.warning("api_token_refused", path=request.path)
            return unauthorized("invalid bearer token")
        return await handler(request)

    return middleware
