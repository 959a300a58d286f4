"""Creates every AWS resource a deployment needs, idempotently; safe against real AWS.

The tables exist once, in the home region; every region has its bucket, queues and topics
(the same names in each region, but bucket names are unique: `misc` records the home
region's under `bucket`, another region's under `bucket:<region>`)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
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


def bucket_key(settings: Settings, region: str | None = None) -> str:
    """The `misc` key naming the bucket of `region` (None: this process's region)."""
    region = region or settings.region
    return BUCKET_KEY if region == settings.home_region else f"{BUCKET_KEY}:{region}"


async def ensure_bucket(clients: Clients, settings: Settings) -> str:
    """This region's bucket: a unique name made once and recorded in `misc`."""
    key = bucket_key(settings)
    existing = await misc_value(clients, settings, key)
    name = existing or f"{settings.deployment}-{secrets.token_hex(BUCKET_SUFFIX_CHARS // 2)}"
    await _create_bucket(clients, settings, name)
    if existing is None:
        await _record_bucket(clients, settings, name, key)
    return await misc_value(clients, settings, key) or name


async def region_buckets(clients: Clients, settings: Settings) -> dict[str, str]:
    """The recorded bucket of each region of the deployment (a region not bootstrapped yet
    is absent); `TableNotFound` before any bootstrap."""
    found = {
        r: await misc_value(clients, settings, bucket_key(settings, r))
        for r in settings.all_regions
    }
    return {region: name for region, name in found.items() if name is not None}


async def misc_value(clients: Clients, settings: Settings, key: str) -> str | None:
    try:
        item = await clients.dynamo.get_item(settings.misc_table, {"key": key})
    except ItemNotFound:
        return None
    return str(item["value"]) if item else None


async def _record_bucket(clients: Clients, settings: Settings, name: str, key: str) -> None:
    try:
        await clients.dynamo.put_item(
            settings.misc_table,
            {"key": key, "value": name},
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


async def bootstrap_regions(
    clients: Mapping[str, Clients], settings: Settings
) -> dict[str, Resources]:
    """`bootstrap` in every region of the deployment (`clients` by region), home first."""
    return {r: await bootstrap(clients[r], settings.in_region(r)) for r in settings.all_regions}


async def bootstrap(clients: Clients, settings: Settings) -> Resources:
    """Create what is missing, leave what exists, in this process's region (and the tables
    in the home region); returns the resources' names. `LookupError` in another region
    while the home region has no bucket yet. The events queue's policy and subscription
    are the account set-up's (`events_queue.py`)."""
    await ensure_tables(clients, settings)
    home_bucket = None
    if settings.region != settings.home_region:
        home_bucket = await _home_bucket(clients, settings, "bootstrap its home region first")
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
        (bucket, home_bucket or bucket),
        (queue["QueueUrl"], events_queue["QueueUrl"]),
        (topic["TopicArn"], events_topic["TopicArn"]),
    )


async def _home_bucket(clients: Clients, settings: Settings, missing: str) -> str:
    home = await misc_value(clients, settings, BUCKET_KEY)
    if home is None:
        raise LookupError(f"{settings.home_region} has no bucket recorded: {missing}")
    return home


def _resources(
    settings: Settings,
    buckets: tuple[str, str],
    queue_urls: tuple[str, str],
    topic_arns: tuple[str, str],
) -> Resources:
    """`buckets`: this region's and the home region's."""
    return Resources(
        jobs_table=settings.jobs_table,
        events_table=settings.events_table,
        misc_table=settings.misc_table,
        tokens_table=settings.tokens_table,
        credentials_table=settings.credentials_table,
        bucket=buckets[0],
        ping_queue_url=queue_urls[0],
        topic_arn=topic_arns[0],
        events_topic_arn=topic_arns[1],
        events_queue_url=queue_urls[1],
        region=settings.region,
        home_bucket=buckets[1],
    )


async def resolve(clients: Clients, settings: Settings) -> Resources:
    """The resources of a bootstrapped deployment in this process's region: found, never
    created (the master and the user commands need no create rights). `LookupError` when
    something is missing."""
    missing = f"deployment {settings.deployment!r} is not bootstrapped"
    if settings.region != settings.home_region:
        missing += f" in {settings.region}"
    try:
        bucket = await misc_value(clients, settings, bucket_key(settings))
    except TableNotFound as exc:
        raise LookupError(f"{missing}: no table {settings.misc_table}") from exc
    if bucket is None:
        raise LookupError(missing)
    home_bucket = bucket
    if settings.region != settings.home_region:
        home_bucket = await _home_bucket(clients, settings, f"{missing} (home region)")
    queues = (
        await _queue_url(clients, settings.ping_queue, missing),
        await _queue_url(clients, settings.events_queue, missing),
    )
    # the topics' ARNs share the queue's partition, region and account
    found = await clients.sqs.get_queue_attributes(QueueUrl=queues[0], AttributeNames=["QueueArn"])
    prefix = found["Attributes"]["QueueArn"].rsplit(":", 1)[0].replace(":sqs:", ":sns:", 1)
    topics = (f"{prefix}:{settings.topic}", f"{prefix}:{settings.events_topic}")
    return _resources(settings, (bucket, home_bucket), queues, topics)


async def resolve_region(
    clients: Mapping[str, Clients], settings: Settings, region: str
) -> Resources:
    """`resolve` in `region` of the deployment, with `clients` by region (`open_region_clients`):
    what a master needs to watch another region's jobs (its bucket, queues and topics)."""
    return await resolve(clients[region], settings.in_region(region))


async def resolve_regions(
    clients: Mapping[str, Clients], settings: Settings
) -> dict[str, Resources]:
    """`resolve` in every region of the deployment, home first."""
    return {r: await resolve_region(clients, settings, r) for r in settings.all_regions}


async def _queue_url(clients: Clients, name: str, missing: str) -> str:
    try:
        return (await clients.sqs.get_queue_url(QueueName=name))["QueueUrl"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _NO_QUEUE:
            raise LookupError(f"{missing}: no queue {name}") from exc
        raise
