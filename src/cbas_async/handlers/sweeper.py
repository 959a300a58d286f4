"""Clean-up: instances whose attempt is over get a cancel command and are terminated;
SNS subscriptions of workers that are gone are removed. In every region of the deployment:
each region's instances, its commands topic's subscriptions."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from botocore.exceptions import ClientError

from cbas_async.clock import Clock
from cbas_async.errors import JobNotFound
from cbas_async.fleet.launcher import Launcher
from cbas_async.fleet.lease import owner_alive
from cbas_async.fleet.tags import tag_value
from cbas_async.messages import Command, CommandKind
from cbas_async.store import JobStore

if TYPE_CHECKING:
    from types_aiobotocore_sns import SNSClient

log = structlog.get_logger(__name__)

SUBSCRIPTION_PREFIX = "sub#"


def subscription_key(master_id: str) -> str:
    return SUBSCRIPTION_PREFIX + master_id


@dataclass(frozen=True, slots=True, kw_only=True)
class SweptRegion:
    """What the sweeper cleans up in one region: its instances (through the launcher of
    that region) and its commands topic's subscriptions."""

    launcher: Launcher
    sns: SNSClient
    topic_arn: str


class Sweeper:
    """Runs every few supervisor ticks; every step is safe to repeat. `launcher`, `sns` and
    `topic_arn` are this master's region's; `others` the other regions of the deployment,
    swept too (a region whose masters are gone still gets its finished instances stopped)."""

    def __init__(
        self,
        *,
        store: JobStore,
        launcher: Launcher,
        sns: SNSClient,
        topic_arn: str,
        clock: Clock,
        others: Sequence[SweptRegion] = (),
    ) -> None:
        self._store = store
        self._sns = sns
        self._own = SweptRegion(launcher=launcher, sns=sns, topic_arn=topic_arn)
        self._regions = [self._own, *others]
        self._clock = clock

    async def sweep_once(self) -> None:
        for region in self._regions:
            try:
                await self._sweep_region(region)
            except Exception:  # the boundary of one region: the others are still swept
                log.exception("sweep_region_failed", region=region.launcher.region)
        await self._drop_dead_masters_subscriptions()

    async def _sweep_region(self, region: SweptRegion) -> None:
        live = await region.launcher.live_instances()
        await self._stop_finished(live, region)
        await self._drop_dead_subscriptions({i["InstanceId"] for i in live}, region)

    async def _drop_dead_masters_subscriptions(self) -> None:
        """A master killed with -9 leaves its /sns subscription behind: remove it once its
        lease has expired (on moto a dead subscriber fails every publish to the topic)."""
        now_s = self._clock.now().timestamp()
        for item in await self._store.misc_scan_prefix(SUBSCRIPTION_PREFIX):
            owner, arn = str(item.get("owner")), str(item.get("arn"))
            if await owner_alive(self._store, owner, now_s):
                continue
            with contextlib.suppress(ClientError):
                await self._sns_of(arn).unsubscribe(SubscriptionArn=arn)
            await self._store.misc_delete(str(item["key"]))
            log.info("dead_master_subscription_removed", master_id=owner)

    def _sns_of(self, arn: str) -> SNSClient:
        """The SNS client of the region an ARN names (a master of another region may have
        subscribed there); this master's own for any other."""
        for region in self._regions:
            if _arn_region(region.topic_arn) == _arn_region(arn):
                return region.sns
        return self._sns

    async def _stop_finished(self, live: list[dict[str, Any]], region: SweptRegion) -> None:
        doomed: list[str] = []
        for instance in live:
            job_id = tag_value(instance, "cbas:job_id")
            attempt = tag_value(instance, "cbas:attempt")
            if job_id is None or attempt is None:
                continue
            try:
                job = await self._store.get(job_id)
            except JobNotFound:
                job = None
            if job is None or job.state.terminal or job.attempt != int(attempt):
                doomed.append(str(instance["InstanceId"]))
                instance_id = str(instance["InstanceId"])
                await self.command("cancel", job_id, int(attempt), instance_id, region=region)
        if doomed:
            log.info("instances_terminated", instance_ids=doomed)
            await region.launcher.terminate(doomed)

    async def command(
        self,
        kind: CommandKind,
        job_id: str,
        attempt: int,
        instance_id: str,
        *,
        region: SweptRegion | None = None,
    ) -> None:
        """Publish a command filtered to one worker's subscription, on the commands topic
        of the worker's region (by default this master's)."""
        region = region or self._own
        message = Command(kind=kind, job_id=job_id, attempt=attempt, instance_id=instance_id)
        try:
            await region.sns.publish(
                TopicArn=region.topic_arn,
                Message=message.encode(),
                MessageAttributes={
                    "instance_id": {"DataType": "String", "StringValue": instance_id}
                },
            )
        except ClientError as exc:
            log.warning("command_publish_failed", error=str(exc), instance_id=instance_id)

    async def _drop_dead_subscriptions(self, live_ids: set[str], region: SweptRegion) -> None:
        paginator = region.sns.get_paginator("list_subscriptions_by_topic")
        async for page in paginator.paginate(TopicArn=region.topic_arn):
            for sub in page.get("Subscriptions", []):
                arn = sub.get("SubscriptionArn", "")
                if not arn.startswith("arn:"):
                    continue  # pending confirmation
                instance_id = await self._subscriber_instance(arn, region.sns)
                if instance_id is not None and instance_id not in live_ids:
                    await region.sns.unsubscribe(SubscriptionArn=arn)
                    log.info("dead_subscription_removed", instance_id=instance_id)

    async def _subscriber_instance(self, subscription_arn: str, sns: SNSClient) -> str | None:
        try:
            attributes = await sns.get_subscription_attributes(SubscriptionArn=subscription_arn)
        except ClientError:
            return None  # removed meanwhile (the worker unsubscribed on exit)
        policy = attributes.get("Attributes", {}).get("FilterPolicy")
        if not policy:
            return None
        ids = json.loads(policy).get("instance_id")
        return str(ids[0]) if isinstance(ids, list) and ids else None


def _arn_region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""
