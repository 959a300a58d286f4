"""The `tokens` table: tokens older versions kept in `misc` move once, and "last used" is
written at most once per token every `TOUCH_EVERY_S`, by any number of masters."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from cbas_async.clock import utc_iso
from cbas_async.web.tokens import KEY_PREFIX, NAME_PREFIX, TOUCH_EVERY_S, TokenStore, hash_secret
from tests.fakes import FakeClock
from tests.web.conftest import Api

START = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


async def _plant_legacy(api: Api, name: str) -> str:
    """A token as an older version stored it: its entry and name claim in `misc`."""
    token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    entry = {"hash": hash_secret(secret), "name": name, "owner": name, "role": "user"}
    await api.store.misc_put(KEY_PREFIX + token_id, entry)
    await api.store.misc_put(NAME_PREFIX + name, {"token_id": token_id})
    return f"cbas_{token_id}_{secret}"


async def test_tokens_in_misc_move_once_and_then_verify(api: Api) -> None:
    tokens = TokenStore(store=api.store, clock=FakeClock(START))
    token = await _plant_legacy(api, "old-ci")
    assert await tokens.verify(token) is None  # `misc` is never read to verify
    assert await tokens.migrate() == 2
    assert await api.store.misc_scan_prefix("api-token") == []
    info = await tokens.verify(token)
    assert info is not None
    assert (info.name, info.owner, info.role) == ("old-ci", "old-ci", "user")
    assert await tokens.migrate() == 0  # idempotent
    assert "old-ci" in {t.name for t in await tokens.list_tokens()}
    assert (await tokens.revoke("old-ci")).token_id == info.token_id
    assert await tokens.verify(token) is None

    # an entry already in `tokens` is kept; the copy in `misc` goes
    token = await tokens.create(name="kept")
    token_id = token.split("_")[1]
    await api.store.misc_put(KEY_PREFIX + token_id, {"hash": hash_secret("stale"), "name": "x"})
    assert await tokens.migrate() == 1
    assert await tokens.verify(token) is not None
    assert await api.store.misc_get(KEY_PREFIX + token_id) is None


async def _last_used(api: Api, token: str) -> str | None:
    item = await api.store.token_get(KEY_PREFIX + token.split("_")[1])
    assert item is not None
    return item.get("last_used_at")


async def test_last_used_is_written_at_most_once_per_period(api: Api) -> None:
    clock = FakeClock(START)
    tokens = TokenStore(store=api.store, clock=clock)
    token = await tokens.create(name="busy")
    assert await _last_used(api, token) is None
    assert await tokens.verify(token) is not None
    first = utc_iso(START)
    assert await _last_used(api, token) == first
    await clock.advance(TOUCH_EVERY_S - 1)
    assert await tokens.verify(token) is not None
    other_master = TokenStore(store=api.store, clock=clock)
    assert await other_master.verify(token) is not None
    assert await _last_used(api, token) == first  # neither master wrote again
    await clock.advance(1)
    assert await tokens.verify(token) is not None
    assert await _last_used(api, token) == utc_iso(clock.now())
    [listed] = [t for t in await tokens.list_tokens() if t.name == "busy"]
    assert listed.last_used_at == utc_iso(clock.now())
