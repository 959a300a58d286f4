"""API tokens: created once, stored hashed in the `tokens` table, checked in constant time,
listed and revoked by name.

A token reads `cbas_<id>_<secret>`. `tokens` keeps `api-token#<id>` with the SHA-256 of the
secret (never the secret itself, so a leaked table grants nothing), its name, owner, role,
creation time and when it was last used; `api-token-name#<name>` claims the name, so names
are unique. The secret holds 256 random bits, so a plain (fast) hash is enough: there is
nothing to brute-force. No worker policy names the `tokens` table.

A token is `admin` (sees and cancels every job) or `user` (only the jobs its owner
submitted). A token stored before roles existed (a hash and perhaps a note) is an admin
owned by "legacy". Tokens that older versions kept in `misc` are moved to `tokens` once
(`migrate`, run when the master starts and by every `cbas token` command), then deleted from
`misc`; `verify` never reads `misc`.

By default every request reads the token's item, so a revoked token is refused at once. With
`cache_s` > 0, tokens that verified are kept in memory that long (a revoked token then keeps
working on a master for up to `cache_s`). Unknown or wrong tokens are never cached.

"Last used" is written at most once per token every `touch_every_s` (5 minutes): a
conditional update that only lands when the stored time is older, so several masters do not
multiply the writes, and a request never waits on more than that one write.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections import OrderedDict
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any, Literal, get_args

import structlog
from aiodynamo.errors import AIODynamoError
from aiodynamo.expressions import F

from cbas_async.clock import Clock, utc_iso
from cbas_async.errors import PermanentError
from cbas_async.store import JobStore

KEY_PREFIX = "api-token#"
NAME_PREFIX = "api-token-name#"
LEGACY_OWNER = "legacy"
Role = Literal["admin", "user"]
ROLES: tuple[Role, ...] = get_args(Role)
_TOKEN = re.compile(r"cbas_([0-9a-f]{12})_([A-Za-z0-9_-]{43})", re.ASCII)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}", re.ASCII)
_DUMMY_HASH = hashlib.sha256(b"no such token").hexdigest()
TOUCH_EVERY_S = 300.0  # "last used" is at most this stale, and costs one write per period
LAST_USED = "last_used_at"

log = structlog.get_logger(__name__)


class TokenProblem(PermanentError):
    """A token command that cannot be done: a taken or bad name, an unknown token."""


class TokenNotFound(TokenProblem):
    """No single token has that name or id."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenInfo:
    """What may be shown of a token: never its secret or hash."""

    token_id: str
    name: str
    owner: str
    role: Role
    created_at: str
    last_used_at: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may_see(self, submitted_by: str | None) -> bool:
        """Whether a job submitted by `submitted_by` is visible to this token."""
        return self.is_admin or (submitted_by is not None and submitted_by == self.owner)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def info_of(item: dict[str, Any]) -> TokenInfo | None:
    """The token an item describes; None when its role is not one we know."""
    token_id = str(item["key"]).removeprefix(KEY_PREFIX)
    role = item.get("role", "admin")  # stored before roles: an admin
    if role not in ROLES:
        return None
    return TokenInfo(
        token_id=token_id,
        name=str(item.get("name") or token_id),
        owner=str(item.get("owner") or LEGACY_OWNER),
        role=role,
        created_at=str(item.get("created_at", "")),
        last_used_at=str(item[LAST_USED]) if item.get(LAST_USED) else None,
    )


class TokenStore:
    """Creates, lists, revokes and verifies API tokens kept in the `tokens` table."""

    def __init__(
        self,
        *,
        store: JobStore,
        clock: Clock,
        cache_s: float = 0.0,
        cache_size: int = 1024,
        touch_every_s: float = TOUCH_EVERY_S,
    ) -> None:
        self._store = store
        self._clock = clock
        self._cache_s = cache_s
        self._cache_size = cache_size
        self._touch_every_s = touch_every_s
        self._cached: OrderedDict[str, tuple[str, TokenInfo, float]] = OrderedDict()
        self._touched: OrderedDict[str, float] = OrderedDict()  # token id -> monotonic

    async def create(self, *, name: str = "", owner: str = "", role: Role = "admin") -> str:
        """Store a new token and return it (shown once, never stored)."""
        token, _ = await self.issue(name=name, owner=owner, role=role)
        return token

    async def issue(
        self, *, name: str = "", owner: str = "", role: Role = "admin"
    ) -> tuple[str, TokenInfo]:
        """A new token and what is stored of it. The name (default: the token's id) must be
        free; the owner defaults to the name. Raises `TokenProblem`, storing nothing."""
        token_id = secrets.token_hex(6)
        name = name or token_id
        _check_name(name, "name")
        _check_name(owner or name, "owner")
        info = TokenInfo(
            token_id=token_id,
            name=name,
            owner=owner or name,
            role=role,
            created_at=utc_iso(self._clock.now()),
        )
        await self._claim_name(name, token_id)
        secret = secrets.token_urlsafe(32)
        shown = {k: v for k, v in info.to_json().items() if v is not None and k != "token_id"}
        item = {**shown, "hash": hash_secret(secret)}
        try:
            await self._store.token_put(KEY_PREFIX + token_id, item)
        except BaseException:
            await self._store.token_delete(NAME_PREFIX + name)
            raise
        return f"cbas_{token_id}_{secret}", info

    async def _claim_name(self, name: str, token_id: str) -> None:
        if any(t.name == name for t in await self.list_tokens()):  # includes unclaimed legacy names
            raise TokenProblem(f"a token named {name!r} exists already")
        claim = {"token_id": token_id}
        if not await self._store.token_put(
            NAME_PREFIX + name, claim, condition=F("key").does_not_exist()
        ):
            raise TokenProblem(f"a token named {name!r} exists already")

    async def list_tokens(self) -> list[TokenInfo]:
        items = await self._store.token_scan_prefix(KEY_PREFIX)
        found = [info for item in items if (info := info_of(item)) is not None]
        return sorted(found, key=lambda t: (t.created_at, t.name))

    async def revoke(self, name: str) -> TokenInfo:
        """Delete the token named `name` (or with that id). Raises `TokenProblem`."""
        matches = [t for t in await self.list_tokens() if name in (t.name, t.token_id)]
        if len(matches) != 1:
            problem = "no token" if not matches else f"{len(matches)} tokens"
            raise TokenNotFound(f"{problem} named {name!r}")
        found = matches[0]
        await self._store.token_delete(KEY_PREFIX + found.token_id)
        await self._store.token_delete(
            NAME_PREFIX + found.name, condition=F("token_id").equals(found.token_id)
        )
        self._cached.pop(found.token_id, None)
        return found

    async def verify(self, token: str) -> TokenInfo | None:
        """The token when it is valid, else None. Equal work for unknown ids."""
        match = _TOKEN.fullmatch(token)
        token_id, secret = match.groups() if match else ("0" * 12, "")
        cached = self._from_cache(token_id) if match else None
        stored, info = cached if cached else (None, None)
        if cached is None and match:
            item = await self._store.token_get(KEY_PREFIX + token_id)
            info = info_of(item) if item else None
            stored = str(item.get("hash", _DUMMY_HASH)) if item and info else None
        same = hmac.compare_digest(hash_secret(secret), stored or _DUMMY_HASH)
        if not same or stored is None or info is None:
            return None
        if cached is None:
            self._remember(token_id, stored, info)
        await self._touch(token_id)
        return info

    async def migrate(self) -> int:
        """Move the token entries and name claims older versions kept in `misc` to `tokens`
        (an entry already there is kept), deleting each from `misc` once moved; idempotent.
        Returns how many items moved."""
        moved = 0
        for prefix in (KEY_PREFIX, NAME_PREFIX):
            for item in await self._store.misc_scan_prefix(prefix):
                key = str(item.pop("key"))
                await self._store.token_put(key, item, condition=F("key").does_not_exist())
                await self._store.misc_delete(key)
                moved += 1
        if moved:
            log.info("api_tokens_migrated", items=moved)
        return moved

    async def _touch(self, token_id: str) -> None:
        """Record "last used", at most once per `touch_every_s` per token."""
        now = self._clock.monotonic()
        last = self._touched.get(token_id)
        if last is not None and now - last < self._touch_every_s:
            return
        self._touched[token_id] = now
        self._touched.move_to_end(token_id)
        while len(self._touched) > self._cache_size:
            self._touched.popitem(last=False)
        stamp = self._clock.now()
        older = utc_iso(stamp - timedelta(seconds=self._touch_every_s))
        try:
            await self._store.token_touch(
                KEY_PREFIX + token_id, field=LAST_USED, now=utc_iso(stamp), older_than=older
            )
        except AIODynamoError as exc:  # "last used" is a hint: never fail a request for it
            log.warning("api_token_touch_failed", token_id=token_id, error=type(exc).__name__)

    def _from_cache(self, token_id: str) -> tuple[str, TokenInfo] | None:
        cached = self._cached.get(token_id)
        if cached is None or cached[2] <= self._clock.monotonic():
            self._cached.pop(token_id, None)
            return None
        return cached[0], cached[1]

    def _remember(self, token_id: str, stored: str, info: TokenInfo) -> None:
        if self._cache_s <= 0:
            return
        self._cached[token_id] = (stored, info, self._clock.monotonic() + self._cache_s)
        self._cached.move_to_end(token_id)
        while len(self._cached) > self._cache_size:
            self._cached.popitem(last=False)


def _check_name(value: str, what: str) -> None:
    if not _NAME.fullmatch(value):
        raise TokenProblem(
            f"bad token {what} {value!r}: up to 64 letters, digits, spaces and ._@-,"
            " starting with a letter or digit"
        )
