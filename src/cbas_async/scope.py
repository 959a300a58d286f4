"""The names and ARNs of one deployment's resources in one region of one account (`Scope`),
for the account set-up, its teardown and the IAM policies. Pure: no AWS calls.

A deployment of several regions has one scope per region: the tables' ARNs carry the home
region (they exist only there), everything else the scope's own region; `everywhere()`
gives the scope of each region, for what a master or the operator may use in all of them."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from cbas_async.settings import Settings

Process = Literal["operator", "master", "worker", "user"]
PROCESSES: tuple[Process, ...] = ("operator", "master", "worker", "user")
ROLES: tuple[Process, ...] = ("master", "worker")  # the processes bootstrap makes a role for
DEPLOYMENT_TAG = "cbas:deployment"
BUCKET_SUFFIX_CHARS = 12  # the bucket is `<deployment>-<12 hex characters>`
EVENT_RULES: Mapping[str, str] = {  # rule name suffix -> the EC2 event it forwards
    "spot-interruption": "EC2 Spot Instance Interruption Warning",
    "rebalance": "EC2 Instance Rebalance Recommendation",
    "state-change": "EC2 Instance State-change Notification",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """Where the policies apply: one deployment in one region of one account.

    `account` is `*` and `bucket` None when not known yet (printing before bootstrap): the
    ARN then matches any bucket the deployment could own."""

    deployment: str
    region: str
    account: str = "*"
    bucket: str | None = None  # this region's bucket
    home_region: str = ""  # where the tables and the home bucket are ("": `region`)
    regions: tuple[str, ...] = ()  # every region of the deployment, home first; (): `region`
    buckets: tuple[tuple[str, str], ...] = ()  # (region, bucket) of the other regions known
    # jobs, job-events, tokens, credentials, misc (misc names the bucket: it goes last)
    tables: tuple[str, str, str, str, str]
    ping_queue: str
    events_queue: str = ""
    topic: str
    events_topic: str
    partition: str = "aws"
    job_credentials: bool = True  # the master issues workers per-attempt session keys

    @classmethod
    def of(
        cls,
        settings: Settings,
        *,
        account: str = "*",
        bucket: str | None = None,
        buckets: Mapping[str, str] | None = None,
    ) -> Scope:
        """`bucket` is this region's, `buckets` any region's (by region) as far as known."""
        known = dict(buckets or {})
        if bucket is not None:
            known[settings.region] = bucket
        return cls(
            deployment=settings.deployment,
            region=settings.region,
            account=account,
            bucket=known.get(settings.region),
            home_region=settings.home_region,
            regions=settings.all_regions,
            buckets=tuple(sorted((r, b) for r, b in known.items() if r != settings.region)),
            tables=(
                settings.jobs_table,
                settings.events_table,
                settings.tokens_table,
                settings.credentials_table,
                settings.misc_table,
            ),
            ping_queue=settings.ping_queue,
            events_queue=settings.events_queue,
            topic=settings.topic,
            events_topic=settings.events_topic,
            job_credentials=settings.job_credentials,
        )

    # regions
    @property
    def tables_region(self) -> str:
        return self.home_region or self.region

    @property
    def all_regions(self) -> tuple[str, ...]:
        return self.regions or (self.region,)

    def bucket_of(self, region: str) -> str | None:
        """The bucket of `region`, or None when not known (its ARN then is a pattern)."""
        if region == self.region:
            return self.bucket
        return dict(self.buckets).get(region)

    def in_region(self, region: str) -> Scope:
        """The same deployment's scope in `region` (which knows the same buckets)."""
        if region == self.region:
            return self
        known = {**dict(self.buckets), self.region: self.bucket}
        others = tuple(sorted((r, b) for r, b in known.items() if r != region and b is not None))
        return dataclasses.replace(self, region=region, bucket=known.get(region), buckets=others)

    def everywhere(self) -> tuple[Scope, ...]:
        """This scope in every region of the deployment, the home region first."""
        return tuple(self.in_region(region) for region in self.all_regions)

    @property
    def home(self) -> Scope:
        """The home region's scope: its bucket holds the jobs' inputs, outputs and logs."""
        return self.in_region(self.tables_region)

    # names (IAM is global: the region keeps two regions' deployments of one name apart)
    def role_name(self, process: Process) -> str:
        return f"{self.deployment}-{self.region}-{process}"

    @property
    def security_group_name(self) -> str:
        return f"{self.deployment}-worker"

    def rule_name(self, suffix: str) -> str:
        return f"{self.deployment}-{suffix}"

    @property
    def lifecycle_rule_id(self) -> str:
        return f"{self.deployment}-abort-incomplete-uploads"

    # ARNs
    def _arn(self, service: str, resource: str, *, region: str | None = None) -> str:
        """An ARN in `region` (None: this scope's region, "": a global service's)."""
        where = self.region if region is None else region
        return f"arn:{self.partition}:{service}:{where}:{self.account}:{resource}"

    def table_arn(self, name: str) -> str:
        return self._arn("dynamodb", f"table/{name}", region=self.tables_region)

    @property
    def bucket_arn(self) -> str:
        bucket = self.bucket or f"{self.deployment}-{'?' * BUCKET_SUFFIX_CHARS}"
        return f"arn:{self.partition}:s3:::{bucket}"

    @property
    def objects_arn(self) -> str:
        return f"{self.bucket_arn}/*"

    def table_arns(self, *, indexes: bool = False) -> tuple[str, ...]:
        arns = tuple(self.table_arn(name) for name in self.tables)
        return arns + tuple(f"{arn}/index/*" for arn in arns) if indexes else arns

    @property
    def jobs_arn(self) -> str:
        return self.table_arn(self.tables[0])

    @property
    def events_arn(self) -> str:
        return self.table_arn(self.tables[1])

    @property
    def tokens_arn(self) -> str:
        return self.table_arn(self.tables[2])

    @property
    def credentials_arn(self) -> str:
        return self.table_arn(self.tables[3])

    @property
    def misc_arn(self) -> str:
        return self.table_arn(self.tables[4])

    @property
    def topic_arns(self) -> tuple[str, str]:
        return self.topic_arn(self.topic), self.topic_arn(self.events_topic)

    @property
    def queue_arn(self) -> str:
        return self._arn("sqs", self.ping_queue)

    @property
    def events_queue_arn(self) -> str:
        return self._arn("sqs", self.events_queue)

    @property
    def queue_arns(self) -> tuple[str, str]:
        return self.queue_arn, self.events_queue_arn

    def topic_arn(self, name: str) -> str:
        return self._arn("sns", name)

    def role_arn(self, process: Process) -> str:
        return self._arn("iam", f"role/{self.role_name(process)}", region="")

    def profile_arn(self, process: Process) -> str:
        return self._arn("iam", f"instance-profile/{self.role_name(process)}", region="")

    def rule_arn(self, suffix: str) -> str:
        return self._arn("events", f"rule/{self.rule_name(suffix)}")

    def ec2_arn(self, resource: str) -> str:
        return self._arn("ec2", resource)
