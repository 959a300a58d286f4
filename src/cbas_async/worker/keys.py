"""The worker's session keys: the attempt's keys the master writes to `<d>-credentials`
(`job_keys.py`), read with the instance profile's credentials, which may read that one item
and nothing of any job.

The item's key is `aws:userid` of the instance profile's session, `<role id>:<instance id>`,
which STS GetCallerIdentity answers as `UserId` (IMDS knows the instance, not the role id).
The master may not have written the item yet when the worker starts: it is polled until
`KEYS_WAIT_S`. Every client then signs with botocore refreshable credentials that read the
item again `REFRESH_BEFORE_S` before the keys expire (the master renews them earlier).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from aiobotocore.credentials import AioRefreshableCredentials
from aiobotocore.session import get_session
from botocore.credentials import CredentialProvider

from cbas_async.aws import client_kwargs
from cbas_async.clock import Clock, utc_iso
from cbas_async.errors import TransientError
from cbas_async.job_credentials import REFRESH_AHEAD_S, JobCredentials
from cbas_async.job_keys import keys_of
from cbas_async.settings import Settings

log = structlog.get_logger(__name__)

KEYS_WAIT_S = 120.0  # the master writes the item right after RunInstances answers
POLL_S = 1.0
REFRESH_BEFORE_S = REFRESH_AHEAD_S * 2 // 3  # 10 minutes: after the master's renewal
MANDATORY_BEFORE_S = REFRESH_AHEAD_S // 3
METHOD = "cbas-job-keys"


class NoJobKeys(TransientError):
    """The master wrote no keys for this instance in time."""


class JobKeyProvider(CredentialProvider):
    """A botocore credential provider that answers the attempt's refreshable keys first."""

    METHOD = METHOD
    CANONICAL_NAME = METHOD

    def __init__(self, credentials: AioRefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    async def load(self) -> AioRefreshableCredentials:
        return self._credentials


class JobKeyReader:
    """Reads this instance's item with the instance profile's DynamoDB client."""

    def __init__(self, *, dynamo: Any, table: str, key: str, clock: Clock, wait_s: float) -> None:
        self._dynamo = dynamo
        self._table = table
        self._key = key
        self._clock = clock
        self._wait_s = wait_s

    async def read(self) -> JobCredentials | None:
        answer = await self._dynamo.get_item(
            TableName=self._table, Key={"key": {"S": self._key}}, ConsistentRead=True
        )
        item = answer.get("Item")
        return None if item is None else keys_of({k: _plain(v) for k, v in item.items()})

    async def wait(self) -> JobCredentials:
        """The item's keys, polling until `wait_s`; raises `NoJobKeys` past it."""
        deadline = self._clock.monotonic() + self._wait_s
        while (keys := await self.read()) is None:
            if self._clock.monotonic() >= deadline:
                raise NoJobKeys(f"no session keys in {self._table} after {self._wait_s:.0f} s")
            await self._clock.sleep(POLL_S)
        return keys

    async def metadata(self) -> dict[str, str]:
        """What botocore's refresh takes: the item as it is now."""
        return _metadata(await self.wait())

    def credentials(self, keys: JobCredentials) -> AioRefreshableCredentials:
        return AioRefreshableCredentials.create_from_metadata(
            _metadata(keys),
            refresh_using=self.metadata,
            method=METHOD,
            advisory_timeout=REFRESH_BEFORE_S,
            mandatory_timeout=MANDATORY_BEFORE_S,
        )


@asynccontextmanager
async def job_key_provider(
    settings: Settings, table: str, clock: Clock, wait_s: float = KEYS_WAIT_S
) -> AsyncIterator[JobKeyProvider]:
    """The provider of this attempt's keys; the instance profile's clients stay open with
    it, for the refreshes."""
    session = get_session()
    kwargs = client_kwargs(settings)
    async with session.create_client("sts", **kwargs) as sts:  # type: ignore[call-overload]
        user_id = (await sts.get_caller_identity())["UserId"]
    # the tables are in the home region (`settings.home_region`), wherever the worker runs
    home = client_kwargs(settings.in_region(settings.home_region))
    async with session.create_client("dynamodb", **home) as dynamo:  # type: ignore[call-overload]
        reader = JobKeyReader(dynamo=dynamo, table=table, key=user_id, clock=clock, wait_s=wait_s)
        keys = await reader.wait()
        log.info(
            "job_keys_read", access_key_id=keys.access_key_id, expires_at=utc_iso(keys.expires_at)
        )
        yield JobKeyProvider(reader.credentials(keys))


def _metadata(keys: JobCredentials) -> dict[str, str]:
    return {
        "access_key": keys.access_key_id,
        "secret_key": keys.secret_access_key,
        "token": keys.session_token,
        "expiry_time": keys.expires_at.isoformat(),
    }


def _plain(value: dict[str, Any]) -> Any:
    """A DynamoDB attribute value of the item's types: S or N."""
    return value["S"] if "S" in value else value["N"]
