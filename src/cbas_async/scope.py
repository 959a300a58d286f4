"""The names and ARNs of one deployment's resources in one region of one account (`Scope`),
for the account set-up, its teardown and the IAM policies. Pure: no AWS calls."""

from __future__ import annotations

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

    `account` is `*` and `bucket` None when not known yet (printing before bootstrap)."""

    deployment: str
    region: str
    account: str = "*"
    bucket: str | None = None
    # jobs, job-events, tokens, credentials, misc (misc names the bucket: it goes last)
    tables: tuple[str, str, str, str, str]
    ping_queue: str
    events_queue: str = ""
    topic: str
    events_topic: str
    partition: str = "aws"
    job_credentials: bool = True  # the master issues workers per-attempt session keys

    @classmethod
    def of(cls, settings: Settings, *, account: str = "*", bucket: str | None = None) -> Scope:
        return cls(
            deployment=settings.deployment,
            region=settings.region,
            account=account,
            bucket=bucket,
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
    def _arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:{self.partition}:{service}:{region}:{self.account}:{resource}"

    def table_arn(self, name: str) -> str:
        return self._arn("dynamodb", f"table/{name}")

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
        return self._arn("iam", f"role/{self.role_name(process)}", regional=False)

    def profile_arn(self, process: Process) -> str:
        return self._arn("iam", f"instance-profile/{self.role_name(process)}", regional=False)

    def rule_arn(self, suffix: str) -> str:
        return self._arn("events", f"rule/{self.rule_name(suffix)}")

    def ec2_arn(self, resource: str) -> str:
        return self._arn("ec2", resource)
