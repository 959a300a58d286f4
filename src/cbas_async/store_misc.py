"""The `misc` table: small items under string keys (leases, API tokens, subscriptions)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiodynamo.errors import ConditionalCheckFailed, ItemNotFound
from aiodynamo.expressions import Condition, F

from cbas_async.store_reads import JobReads


class MiscTable(JobReads):
    """Get, put, delete and scan `misc` items; writes may carry a condition."""

    async def misc_get(self, key: str) -> dict[str, Any] | None:
        try:
            item = await self._db.get_item(self._misc, {"key": key})
        except ItemNotFound:
            return None
        return item

    async def misc_put(
        self, key: str, value: Mapping[str, Any], *, condition: Condition | None = None
    ) -> bool:
        """Put a misc item; False when `condition` does not hold."""
        try:
            await self._db.put_item(self._misc, {"key": key, **value}, condition=condition)
        except ConditionalCheckFailed:
            return False
        return True

    async def misc_delete(self, key: str, *, condition: Condition | None = None) -> bool:
        try:
            await self._db.delete_item(self._misc, {"key": key}, condition=condition)
        except ConditionalCheckFailed:
            return False
        return True

    async def misc_scan_prefix(self, prefix: str) -> list[dict[str, Any]]:
        items = self._db.scan(self._misc, filter_expression=F("key").begins_with(prefix))
        return [item async for item in items]
