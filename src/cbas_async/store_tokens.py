"""The `tokens` table: API token entries and name claims under string keys. It is apart from
`misc` so that no worker policy names it: a job cannot read a hash or mint itself a token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiodynamo.errors import ConditionalCheckFailed, ItemNotFound
from aiodynamo.expressions import Condition, F

from cbas_async.errors import ConfigError
from cbas_async.store_reads import JobReads


class TokenTable(JobReads):
    """Get, put, delete, scan and touch `tokens` items; writes may carry a condition."""

    @property
    def _token_table(self) -> str:
        if not self._tokens:
            raise ConfigError("CBAS_DEPLOYMENT", "this store was opened without a tokens table")
        return self._tokens

    async def token_get(self, key: str) -> dict[str, Any] | None:
        try:
            item = await self._db.get_item(self._token_table, {"key": key})
        except ItemNotFound:
            return None
        return item

    async def token_put(
        self, key: str, value: Mapping[str, Any], *, condition: Condition | None = None
    ) -> bool:
        """Put a token item; False when `condition` does not hold."""
        try:
            await self._db.put_item(self._token_table, {"key": key, **value}, condition=condition)
        except ConditionalCheckFailed:
            return False
        return True

    async def token_delete(self, key: str, *, condition: Condition | None = None) -> bool:
        try:
            await self._db.delete_item(self._token_table, {"key": key}, condition=condition)
        except ConditionalCheckFailed:
            return False
        return True

    async def token_scan_prefix(self, prefix: str) -> list[dict[str, Any]]:
        items = self._db.scan(self._token_table, filter_expression=F("key").begins_with(prefix))
        return [item async for item in items]

    async def token_touch(self, key: str, *, field: str, now: str, older_than: str) -> bool:
        """Set `field` to `now` on an existing item whose `field` is missing or not after
        `older_than` (ISO strings in UTC order as times do); False when nothing was written."""
        stale = F(field).does_not_exist() | F(field).lte(older_than)
        try:
            await self._db.update_item(
                self._token_table,
                {"key": key},
                F(field).set(now),
                condition=F("key").exists() & stale,
            )
        except ConditionalCheckFailed:
            return False
        return True
