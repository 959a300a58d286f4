"""The master lease: one `misc` item per master, renewed while it lives, released on exit.

Jobs record their owner; another master may adopt them only once the owner's lease has
expired. Lease times are wall-clock epoch seconds, since they are compared across hosts.
Each lease names its master's region, so a region whose leases have all expired is known
to have no master (`live_regions`).
"""

from __future__ import annotations

import asyncio
from types import TracebackType

import structlog
from aiodynamo.expressions import F

from cbas_async.clock import Clock
from cbas_async.loops import every
from cbas_async.store import JobStore

log = structlog.get_logger(__name__)


def lease_key(master_id: str) -> str:
    return f"lease#{master_id}"


class MasterLease:
    """Holds this master's lease; `held` turns False if renewal stops working."""

    name = "lease"

    def __init__(
        self, *, store: JobStore, master_id: str, ttl_s: float, clock: Clock, region: str = ""
    ) -> None:
        self._store = store
        self.master_id = master_id
        self.region = region
        self._ttl_s = ttl_s
        self._clock = clock
        self._valid_until = float("-inf")  # monotonic

    @property
    def held(self) -> bool:
        return self._clock.monotonic() < self._valid_until

    async def __aenter__(self) -> MasterLease:
        if not await self.renew_once():
            raise RuntimeError(f"master id {self.master_id} is held by a live master")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.release()

    async def renew_once(self) -> bool:
        """Write the lease if it is ours or free; True when we hold it afterwards."""
        started = self._clock.monotonic()
        now_ms = int(self._clock.now().timestamp() * 1000)
        key = lease_key(self.master_id)
        free = F("key").does_not_exist() | F("owner").equals(self.master_id)
        ok = await self._store.misc_put(
            key,
            {
                "owner": self.master_id,
                "region": self.region,
                "expires_at_ms": now_ms + int(self._ttl_s * 1000),
            },
            condition=free | F("expires_at_ms").lt(now_ms),
        )
        if ok:
            self._valid_until = started + self._ttl_s
        return ok

    async def release(self) -> None:
        self._valid_until = float("-inf")
        await self._store.misc_delete(
            lease_key(self.master_id), condition=F("owner").equals(self.master_id)
        )
        log.info("lease_released", master_id=self.master_id)

    async def run(self, stopping: asyncio.Event) -> None:
        await every(
            self._ttl_s / 3,
            self._renew_or_complain,
            stopping=stopping,
            clock=self._clock,
            log_event="lease_renew_failed",
            master_id=self.master_id,
        )

    async def _renew_or_complain(self) -> None:
        if not await self.renew_once():
            log.error("lease_taken", master_id=self.master_id)


async def owner_alive(store: JobStore, owner: str, now_s: float) -> bool:
    """Whether `owner` holds an unexpired lease."""
    item = await store.misc_get(lease_key(owner))
    return item is not None and int(item["expires_at_ms"]) > now_s * 1000


async def live_regions(store: JobStore, now_s: float) -> set[str]:
    """The regions with at least one master holding an unexpired lease."""
    leases = await store.misc_scan_prefix(lease_key(""))
    return {
        str(item["region"])
        for item in leases
        if item.get("region") and int(item["expires_at_ms"]) > now_s * 1000
    }
