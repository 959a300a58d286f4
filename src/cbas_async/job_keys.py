"""Delivers each attempt's session keys (`job_credentials.py`) to its instance: the master
writes them to the `<d>-credentials` item keyed `<worker role id>:<instance id>`, which is
`aws:userid` for that instance's profile credentials, so only that instance can read it.

`KeyKeeper` is the master's side: `issue` after a launch lands, `renew_once` rewrites items
whose keys are `refresh_due`, and an attempt that ends has its item deleted (best effort:
each item also carries a DynamoDB TTL an hour past its keys' expiry). The keys never reach
a log.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from aiodynamo.client import Client as DynamoClient

from cbas_async.clock import Clock, utc_iso
from cbas_async.job_credentials import JobCredentialIssuer, JobCredentials

log = structlog.get_logger(__name__)

RENEW_CHECK_S = 60.0  # how often the keeper looks for keys due for renewal
TTL_AFTER = timedelta(hours=1)  # DynamoDB deletes an item this long after its keys expire
TTL_ATTRIBUTE = "expires_ttl"


@dataclass(frozen=True, slots=True)
class _Issued:
    instance_id: str
    keys: JobCredentials


def item_key(role_id: str, instance_id: str) -> str:
    """The item's key: what `aws:userid` is for that instance's profile credentials."""
    return f"{role_id}:{instance_id}"


def item_of(key: str, instance_id: str, keys: JobCredentials) -> dict[str, Any]:
    return {
        "key": key,
        "job_id": keys.job_id,
        "attempt": keys.attempt,
        "instance_id": instance_id,
        "access_key_id": keys.access_key_id,
        "secret_access_key": keys.secret_access_key,
        "session_token": keys.session_token,
        "expires_at": utc_iso(keys.expires_at),
        TTL_ATTRIBUTE: int((keys.expires_at + TTL_AFTER).timestamp()),
    }


class KeyKeeper:
    """Issues, renews and withdraws the session keys of this master's live attempts."""

    name = "job-keys"

    def __init__(
        self,
        *,
        issuer: JobCredentialIssuer,
        dynamo: DynamoClient,
        table: str,
        role_id: str,
        clock: Clock,
    ) -> None:
        self._issuer = issuer
        self._dynamo = dynamo
        self._table = table
        self._role_id = role_id
        self._clock = clock
        self._issued: dict[str, _Issued] = {}  # job id -> its attempt's keys
        self._ended: list[str] = []  # instance ids whose items are to be deleted
        self._failed: dict[str, tuple[int, str]] = {}  # job id -> attempt, instance: retried

    @property
    def issued(self) -> dict[str, str]:
        """Job id -> the instance holding its keys now."""
        return {job_id: issued.instance_id for job_id, issued in self._issued.items()}

    async def issue(self, job_id: str, attempt: int, instance_id: str) -> bool:
        """Keys for the attempt that runs on `instance_id`; False (logged) when STS or
        DynamoDB refused: tried again at each `renew_once` while the worker waits."""
        self._failed.pop(job_id, None)
        try:
            keys = await self._issuer.issue(job_id, attempt)
            await self._dynamo.put_item(
                self._table, item_of(self._key(instance_id), instance_id, keys)
            )
        except Exception as exc:
            log.warning("job_keys_not_issued", job_id=job_id, attempt=attempt, error=repr(exc))
            if job_id not in self._issued:
                self._failed[job_id] = (attempt, instance_id)
            return False
        before = self._issued.get(job_id)
        if before is not None and before.instance_id != instance_id:  # an earlier attempt's
            self._ended.append(before.instance_id)
        self._issued[job_id] = _Issued(instance_id, keys)
        return True

    def ended(self, job_id: str) -> None:
        """The job's attempt is over: its item goes at the next `renew_once`."""
        self._failed.pop(job_id, None)
        issued = self._issued.pop(job_id, None)
        if issued is not None:
            self._ended.append(issued.instance_id)

    def keep_only(self, live: Collection[str]) -> None:
        """Every job not in `live` has ended."""
        for job_id in [j for j in [*self._issued, *self._failed] if j not in live]:
            self.ended(job_id)

    async def renew_once(self) -> None:
        """Delete the items of ended attempts; issue keys that failed before; renew keys
        that are `refresh_due`."""
        while self._ended:
            await self._delete(self._ended.pop())
        for job_id, (attempt, instance_id) in list(self._failed.items()):
            await self.issue(job_id, attempt, instance_id)
        now = self._clock.now()
        due = [(j, i) for j, i in self._issued.items() if i.keys.refresh_due(now)]
        for job_id, issued in due:
            await self.issue(job_id, issued.keys.attempt, issued.instance_id)

    async def adopt(self) -> None:
        """Take over the items a previous master wrote, so their keys are renewed (the
        supervisor's `keep_only` drops those of attempts no longer live)."""
        async for item in self._dynamo.scan(self._table):
            job_id = str(item["job_id"])
            if job_id not in self._issued:
                self._issued[job_id] = _Issued(str(item["instance_id"]), keys_of(item))

    async def run(self, stopping: asyncio.Event) -> None:
        try:
            await self.adopt()
        except Exception as exc:
            log.warning("job_keys_not_adopted", error=repr(exc))
        while not stopping.is_set():
            await self.renew_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), RENEW_CHECK_S)

    def _key(self, instance_id: str) -> str:
        return item_key(self._role_id, instance_id)

    async def _delete(self, instance_id: str) -> None:
        try:
            await self._dynamo.delete_item(self._table, {"key": self._key(instance_id)})
        except Exception as exc:
            log.warning("job_keys_not_deleted", instance_id=instance_id, error=repr(exc))


def keys_of(item: dict[str, Any]) -> JobCredentials:
    """The keys an item holds (what the worker reads, and a new master adopts)."""
    return JobCredentials(
        job_id=str(item["job_id"]),
        attempt=int(item["attempt"]),
        access_key_id=str(item["access_key_id"]),
        secret_access_key=str(item["secret_access_key"]),
        session_token=str(item["session_token"]),
        expires_at=datetime.fromisoformat(str(item["expires_at"])),
    )
