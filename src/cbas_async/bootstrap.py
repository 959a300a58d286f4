"""Creates every AWS resource a deployment needs, idempotently; safe against real AWS."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import structlog
from aiodynamo.errors import ConditionalCheckFailed, ItemNotFound, TableNotFound
from aiodynamo.expressions import F
from aiodynamo.models import (
    GlobalSecondaryIndex,
    KeySchema,
    KeySpec,
    KeyType,
    PayPerRequest,
    Projection,
    ProjectionType,
)
from botocore.exceptions import ClientError

from cbas_async.aws import Clients
from cbas_async.scope import BUCKET_SUFFIX_CHARS
from cbas_async.settings import Settings
from cbas_async.store import STATE_INDEX

log = structlog.get_logger(__name__)

BUCKET_KEY = "bucket"
_NO_QUEUE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


@dataclass(frozen=True, slots=True, kw_only=True)
class Resources:
    """Names and addresses of a deployment's resources, as bootstrap found or made them."""

    jobs_table: str
    events_table: str
    misc_table: str
    tokens_table: str
    bucket: str
    ping_queue_url: str
    topic_arn: str
    events_topic_arn: str
    events_queue_url: str  # the events topic's deliveries to the masters
    credentials_table: str = ""  # each attempt's session keys (`job_keys.py`)
    region: str = ""  # where the bucket, queues and topics above are
    home_bucket: str = ""  # the home region's bucket: inputs, outputs, logs ("" : `bucket`)

    @property
    def files_bucket(self) -> str:
        """Where a job's inputs, outputs and logs live: the home region's bucket."""
        return self.home_bucket or self.bucket


async def _ensure_table(
    clients: Clients, name: str, keys: KeySchema, gsis: list[GlobalSecondaryIndex] | None = None
) -> None:
    try:
        await clients.dynamo.describe_table(name)
        return
    except TableNotFound:
        pass
    await clients.dynamo.create_table(name, PayPerRequest(), keys, gsis=gsis, wait_for_active=True)
    log.info("table_created", table=name)


async def ensure_tables(clients: Clients, settings: Settings) -> None:
    state_index = GlobalSecondaryIndex(
        name=STATE_INDEX,
        schema=KeySchema(KeySpec("state", KeyType.string), KeySpec("updated_at", KeyType.string)),
        projection=Projection(ProjectionType.all),
        throughput=None,
    )
    job_key = KeySchema(KeySpec("job_id", KeyType.string))
    await _ensure_table(clients, settings.jobs_table, job_key, [state_index])
    event_key = KeySchema(KeySpec("job_id", KeyType.string), KeySpec("seq", KeyType.number))
    await _ensure_table(clients, settings.events_table, event_key)
    by_key = KeySchema(KeySpec("key", KeyType.string))
    await _ensure_table(clients, settings.tokens_table, by_key)
    await _ensure_table(clients, settings.credentials_table, by_key)
    await _ensure_table(clients, settings.misc_table, by_key)


async def ensure_bucket(clients: Clients, settings: Settings) -> str:
    """The deployment's bucket: a unique name made once and recorded in `misc`."""
    existing = await misc_value(clients, settings, BUCKET_KEY)
    name = existing or f"{settings.deployment}-{secrets.token_hex(BUCKET_SUFFIX_CHARS // 2)}"
    await _create_bucket(clients, settings, name)
    if existing is None:
        await _record_bucket(clients, settings, name)
    return await misc_value(clients, settings, BUCKET_KEY) or name


async def misc_value(clients: Clients, settings: Settings, key: str) -> str | None:
    try:
        item = await clients.dynamo.get_item(settings.misc_table, {"key": key})
    except ItemNotFound:
        return None
    return str(item["value"]) if item else None


async def _record_bucket(clients: Clients, settings: Settings, name: str) -> None:
    try:
        await clients.dynamo.put_item(
            settings.misc_table,
            {"key": BUCKET_KEY, "value": name},
            condition=F("key").does_not_exist(),
        )
    except ConditionalCheckFailed:
        # another bootstrap raced us and recorded its bucket first: ours is surplus
        await clients.s3.delete_bucket(Bucket=name)


async def _bucket_exists(clients: Clients, name: str) -> bool:
    try:
        await clients.s3.head_bucket(Bucket=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket"):
            return False
        raise
    return True


async def _create_bucket(clients: Clients, settings: Settings, name: str) -> None:
    # ask first: in us-east-1 CreateBucket also answers 200 for a bucket we already own
    if await _bucket_exists(clients, name):
        return
    kwargs: dict[str, object] = {"Bucket": name}
    if settings.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": settings.region}
    try:
        await clients.s3.create_bucket(**kwargs)  # type: ignore[arg-type]
        log.info("bucket_created", bucket=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise


async def bootstrap(clients: Clients, settings: Settings) -> Resources:
    """Create what is missing, leave what exists; returns the resources' names. The events
    queue's policy and subscription are the account set-up's (`events_queue.py`)."""
    await ensure_tables(clients, settings)
    bucket = await ensure_bucket(clients, settings)
    # CreateQueue and CreateTopic are idempotent for identical attributes
    queue = await clients.sqs.create_queue(
        QueueName=settings.ping_queue,
        Attributes={"MessageRetentionPeriod": "3600", "VisibilityTimeout": "30"},
    )
    events_queue = await clients.sqs.create_queue(
        QueueName=settings.events_queue,
        Attributes={"MessageRetentionPeriod": "3600", "VisibilityTimeout": "30"},
    )
    # CreateTopic returns the existing topic's ARN when it exists
    topic = await clients.sns.create_topic(Name=settings.topic)
    events_topic = await clients.sns.create_topic(Name=settings.events_topic)
    return _resources(
        settings,
        bucket,
        (queue["QueueUrl"], events_queue["QueueUrl"]),
        (topic["TopicArn"], events_topic["TopicArn"]),
    )


def _resources(
    settings: Settings, bucket: str, queue_urls: tuple[str, str], topic_arns: tuple[str, str]
) -> Resources:
    return Resources(
        jobs_table=settings.jobs_table,
        events_table=settings.events_table,
        misc_table=settings.misc_table,
        tokens_table=settings.tokens_table,
        credentials_table=settings.credentials_table,
        bucket=bucket,
        ping_queue_url=queue_urls[0],
        topic_arn=topic_arns[0],
        events_topic_arn=topic_arns[1],
        events_queue_url=queue_urls[1],
        region=settings.region,
        home_bucket=bucket,
    )


async def resolve(clients: Clients, settings: Settings) -> Resources:
    """The resources of a bootstrapped deployment: found, never created (the master and the
    user commands need no create rights). `LookupError` when something is missing."""
    missing = f"deployment {settings.deployment!r} is not bootstrapped"
    try:
        bucket = await misc_value(clients, settings, BUCKET_KEY)
    except TableNotFound as exc:
        raise LookupError(f"{missing}: no table {settings.misc_table}") from exc
    if bucket is None:
        raise LookupError(missing)
    queues = (
        await _queue_url(clients, settings.ping_queue, missing),
        await _queue_url(clients, settings.events_queue, missing),
    )
    # the topics' ARNs share the queue's partition, region and account
    found = await clients.sqs.get_queue_attributes(QueueUrl=queues[0], AttributeNames=["QueueArn"])
    prefix = found["Attributes"]["QueueArn"].rsplit(":", 1)[0].replace(":sqs:", ":sns:", 1)
    topics = (f"{prefix}:{settings.topic}", f"{prefix}:{settings.events_topic}")
    return _resources(settings, bucket, queues, topics)


async def _queue_url(clients: Clients, name: str, missing: str) -> str:
    try:
        return (await clients.sqs.get_queue_url(QueueName=name))["QueueUrl"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _NO_QUEUE:
            raise LookupError(f"{missing}: no queue {name}") from exc
        raise
