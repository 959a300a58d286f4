"""The live-vCPU ceiling and the quota holds: which launch may go now. Pure: `now_s` is the
clock's monotonic seconds, the vCPUs of a type are handed in.

- The ceiling: the vCPUs of this master's live workers (LAUNCHING or RUNNING attempts)
  never exceed `limit_vcpus` (CBAS_MAX_VCPUS). A launch reserves its vCPUs before
  RunInstances and keeps them until its job leaves LAUNCHING/RUNNING (or the launch
  started nothing). Jobs that do not fit wait in submission order: a job is admitted only
  when no older job is waiting, so a large job is not starved by smaller ones behind it.
- A quota hold: after `QuotaExceeded`, no launch of that market goes until an instance of
  this master frees up or the back-off (doubling from `first_s` to `max_s`) ends.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from cbas_async.fleet.backoff import Backoff
from cbas_async.fleet.pools import BACKOFF_FIRST_S, BACKOFF_MAX_S, Market


@dataclass(frozen=True, slots=True)
class Claim:
    """What an admitted launch holds."""

    vcpus: int
    market: Market


class LaunchGate:
    """Admits launches under the ceiling and the quota holds, oldest job first."""

    def __init__(
        self,
        *,
        limit_vcpus: int | None,
        first_s: float = BACKOFF_FIRST_S,
        max_s: float = BACKOFF_MAX_S,
    ) -> None:
        self.limit_vcpus = limit_vcpus
        self._first_s = first_s
        self._max_s = max_s
        self._claims: dict[str, Claim] = {}  # by job id
        self._waiting: dict[str, datetime] = {}  # job id -> submitted at
        self._holds: dict[Market, Backoff] = {}

    @property
    def live_vcpus(self) -> int:
        return sum(claim.vcpus for claim in self._claims.values())

    def admit(self, job_id: str, submitted_at: datetime, claim: Claim, now_s: float) -> str | None:
        """Reserve `claim` for the job's launch and return None, or say why it waits.
        Synchronous, so launches checked in one tick cannot overshoot together."""
        self._claims.pop(job_id, None)  # a new launch of the job replaces its old one
        hold = self._holds.get(claim.market)
        if hold is not None and hold.until_s > now_s:
            return f"{claim.market} quota reached; waiting for an instance to free up"
        older = [j for j, at in self._waiting.items() if at < submitted_at and j != job_id]
        fits = self.limit_vcpus is None or self.live_vcpus + claim.vcpus <= self.limit_vcpus
        if older or not fits:
            self._waiting[job_id] = submitted_at
            return f"vCPU ceiling {self.limit_vcpus} reached ({self.live_vcpus} live)"
        self._waiting.pop(job_id, None)
        self._claims[job_id] = claim
        return None

    def hold(self, job_id: str) -> Claim | None:
        """The claim a job holds, if any."""
        return self._claims.get(job_id)

    def observe(self, job_id: str, claim: Claim) -> None:
        """A live attempt this master did not launch since it started (adopted, restarted)."""
        self._claims.setdefault(job_id, claim)
        self._waiting.pop(job_id, None)

    def release(self, job_id: str) -> None:
        """The job's instance is gone: its vCPUs free up, and so does quota (holds end)."""
        if self._claims.pop(job_id, None) is not None:
            for hold in self._holds.values():
                hold.until_s = 0.0

    def withdraw(self, job_id: str) -> None:
        """The job's launch started no instance: its vCPUs free up; the quota is as it was."""
        self._claims.pop(job_id, None)

    def quota_reached(self, market: Market, now_s: float) -> float:
        """Hold the market's launches; returns the back-off set, in seconds."""
        hold = self._holds.setdefault(market, Backoff())
        return hold.extend(now_s, self._first_s, self._max_s)

    def held(self, market: Market, now_s: float) -> bool:
        """Whether the market's launches are held after a quota refusal."""
        hold = self._holds.get(market)
        return hold is not None and hold.until_s > now_s

    def quota_ok(self, market: Market) -> None:
        """A launch of the market landed: its hold's back-off starts over."""
        self._holds.pop(market, None)

    def keep_only(self, live: Collection[str]) -> None:
        """Forget the jobs no longer live (finished, cancelled): their claims free up."""
        for job_id in [j for j in self._claims if j not in live]:
            self.release(job_id)
        for job_id in [j for j in self._waiting if j not in live]:
            del self._waiting[job_id]
