"""Clean-up: instances whose attempt is over get a cancel command and are terminated;
SNS subscriptions of workers that are gone are removed."""

from __future__ import annotations

import contextlib
import json
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


class Sweeper:
    """Runs every few supervisor ticks; every step is safe to repeat."""

    def __init__(
        self, *, store: JobStore, launcher: Launcher, sns: SNSClient, topic_arn: str, clock: Clock
    ) -> None:
        self._store = store
        self._launcher = launcher
        self._sns = sns
        self._topic_arn = topic_arn
        self._clock = clock

    async def sweep_once(self) -> None:
        live = await self._launcher.live_instances()
        await self._stop_finished(live)
        await self._drop_dead_subscriptions({i["InstanceId"] for i in live})
        await self._drop_dead_masters_subscriptions()

    async def _drop_dead_masters_subscriptions(self) -> None:
        """A master killed with -9 leaves its /sns subscription behind: remove it once its
        lease has expired (on moto a dead subscriber fails every publish to the topic)."""
        now_s = self._clock.now().timestamp()
        for item in await self._store.misc_scan_prefix(SUBSCRIPTION_PREFIX):
            owner, arn = str(item.get("owner")), str(item.get("arn"))
            if await owner_alive(self._store, owner, now_s):
                continue
            with contextlib.suppress(ClientError):
                await self._sns.unsubscribe(SubscriptionArn=arn)
            await self._store.misc_delete(str(item["key"]))
            log.info("dead_master_subscription_removed", master_id=owner)

    async def _stop_finished(self, live: list[dict[str, Any]]) -> None:
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
                await self.command("cancel", job_id, int(attempt), str(instance["InstanceId"]))
        if doomed:
            log.info("instances_terminated", instance_ids=doomed)
            await self._launcher.terminate(doomed)

    async def command(self, kind: CommandKind, job_id: str, attempt: int, instance_id: str) -> None:
        """Publish a command filtered to one worker's subscription."""
        message = Command(kind=kind, job_id=job_id, attempt=attempt, instance_id=instance_id)
        try:
            await self._sns.publish(
                TopicArn=self._topic_arn,
                Message=message.encode(),
                MessageAttributes={
                    "instance_id": {"DataType": "String", "StringValue": instance_id}
                },
            )
        except ClientError as exc:
            log.warning("command_publish_failed", error=str(exc), instance_id=instance_id)

    async def _drop_dead_subscriptions(self, live_ids: set[str]) -> None:
        paginator = self._sns.get_paginator("list_subscriptions_by_topic")
        async for page in paginator.paginate(TopicArn=self._topic_arn):
            for sub in page.get("Subscriptions", []):
                arn = sub.get("SubscriptionArn", "")
                if not arn.startswith("arn:"):
                    continue  # pending confirmation
                instance_id = await self._subscriber_instance(arn)
                if instance_id is not None and instance_id not in live_ids:
                    await self._sns.unsubscribe(SubscriptionArn=arn)
                    log.info("dead_subscription_removed", instance_id=instance_id)

    async def _subscriber_instance(self, subscription_arn: str) -> str | None:
        try:
            attributes = await self._sns.get_subscription_attributes(
                SubscriptionArn=subscription_arn
            )
        except ClientError:
            return None  # removed meanwhile (the worker unsubscribed on exit)
        policy = attributes.get("Attributes", {}).get("FilterPolicy")
        if not policy:
            return None
        ids = json.loads(policy).get("instance_id")
        return str(ids[0]) if isinstance(ids, list) and ids else None
