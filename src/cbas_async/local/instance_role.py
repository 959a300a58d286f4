"""What IMDS hands a local instance at `iam/security-credentials/<role>`: temporary keys of
the worker role, from the local cloud's (moto's) STS AssumeRole, one session per instance,
renewed well before they expire, as EC2 does for an instance profile's role."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cbas_async.clock import Clock

if TYPE_CHECKING:
    from types_aiobotocore_sts import STSClient

DURATION_S = 3600
RENEW_BEFORE = timedelta(minutes=15)  # botocore refreshes within 15 minutes of expiry


@dataclass(frozen=True, slots=True)
class _Issued:
    document: str  # the JSON IMDS serves
    renew_at: datetime  # on the injected clock


class InstanceRole:
    """The worker role, as instances see it through IMDS: the role of the instance profile
    its region's master launches with (`by_region`), else `role_arn`."""

    def __init__(
        self,
        *,
        sts: STSClient,
        role_arn: str,
        clock: Clock,
        by_region: Mapping[str, str] | None = None,
    ) -> None:
        self._sts = sts
        self._role_arn = role_arn
        self._by_region = dict(by_region or {})
        self._clock = clock
        self._issued: dict[str, _Issued] = {}

    def arn(self, region: str | None = None) -> str:
        return self._by_region.get(region or "", self._role_arn)

    def name(self, region: str | None = None) -> str:
        return self.arn(region).rsplit("/", 1)[-1]

    async def credentials(self, instance_id: str, region: str | None = None) -> str:
        """The JSON document of `iam/security-credentials/<role>` for this instance."""
        issued = self._issued.get(instance_id)
        if issued is None or issued.renew_at <= self._clock.now():
            issued = await self._assume(instance_id, self.arn(region))
            self._issued[instance_id] = issued
        return issued.document

    @property
    def issued_to(self) -> list[str]:
        """The instances holding keys now."""
        return sorted(self._issued)

    def forget(self, instance_id: str) -> None:
        self._issued.pop(instance_id, None)

    async def _assume(self, instance_id: str, role_arn: str) -> _Issued:
        answer = await self._sts.assume_role(
            RoleArn=role_arn, RoleSessionName=instance_id, DurationSeconds=DURATION_S
        )
        keys = answer["Credentials"]
        document = {
            "Code": "Success",
            "LastUpdated": _stamp(self._clock.now()),
            "Type": "AWS-HMAC",
            "AccessKeyId": keys["AccessKeyId"],
            "SecretAccessKey": keys["SecretAccessKey"],
            "Token": keys["SessionToken"],
            "Expiration": _stamp(keys["Expiration"]),  # STS's own: botocore reads it
        }
        renew_at = self._clock.now() + timedelta(seconds=DURATION_S) - RENEW_BEFORE
        return _Issued(json.dumps(document), renew_at)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
