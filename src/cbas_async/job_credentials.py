"""Per-attempt session credentials for a worker: the master assumes the worker role with the
session policy of that one job (`session_policy.py`), so the keys it hands the attempt can
touch that job's item, history and files and nothing of another job's.

The master itself runs on role credentials, so this is role chaining: AWS caps the session
at one hour whatever the role's maximum, and the master issues fresh keys before that
(`refresh_due`). The keys are never logged: `JobCredentials`' repr hides them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cbas_async.scope import Scope
from cbas_async.session_policy import PACKED_LIMIT, job_session_policy, packed

if TYPE_CHECKING:
    from types_aiobotocore_sts import STSClient

CHAINED_MAX_S = 3600  # role chaining: AWS refuses a longer DurationSeconds
REFRESH_AHEAD_S = 900  # new keys this long before the old ones expire


@dataclass(frozen=True, slots=True, kw_only=True)
class JobCredentials:
    """Temporary keys for one attempt of one job."""

    job_id: str
    attempt: int
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expires_at: datetime

    def refresh_due(self, now: datetime) -> bool:
        return now >= self.expires_at - timedelta(seconds=REFRESH_AHEAD_S)


def session_name(job_id: str, attempt: int) -> str:
    """The role session name: CloudTrail shows which attempt made a call (64 characters)."""
    return f"{job_id}.{attempt}"[-64:]


class JobCredentialIssuer:
    """Issues session credentials scoped to one job (the master's side)."""

    def __init__(
        self,
        *,
        sts: STSClient,
        role_arn: str,
        scope: Scope,
        duration_s: int = CHAINED_MAX_S,
        home_bucket: str | None = None,
    ) -> None:
        """`home_bucket`: the job's files when `scope` is of another region than the home
        region (`session_policy.job_session_grants`)."""
        if not 900 <= duration_s <= CHAINED_MAX_S:
            raise ValueError(f"duration_s {duration_s}: STS takes 900 to {CHAINED_MAX_S}")
        self._sts = sts
        self._role_arn = role_arn
        self._scope = scope
        self._duration_s = duration_s
        self._home_bucket = home_bucket

    async def issue(self, job_id: str, attempt: int) -> JobCredentials:
        """Keys for `attempt` of `job_id`; raises ValueError for an id a policy cannot name
        safely, botocore's ClientError when STS refuses."""
        policy = packed(job_session_policy(self._scope, job_id, home_bucket=self._home_bucket))
        if len(policy) > PACKED_LIMIT:
            raise ValueError(f"session policy of {job_id!r} is {len(policy)} characters")
        answer = await self._sts.assume_role(
            RoleArn=self._role_arn,
            RoleSessionName=session_name(job_id, attempt),
            Policy=policy,
            DurationSeconds=self._duration_s,
        )
        keys = answer["Credentials"]
        return JobCredentials(
            job_id=job_id,
            attempt=attempt,
            access_key_id=keys["AccessKeyId"],
            secret_access_key=keys["SecretAccessKey"],
            session_token=keys["SessionToken"],
            expires_at=keys["Expiration"],
        )
