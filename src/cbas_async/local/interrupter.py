"""Spot interruptions on the local cloud: a notice through the IMDS emulator and an
EventBridge-shaped warning on the spot-events topic, then the kill when the notice ends."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from cbas_async.clock import Clock, utc_iso
from cbas_async.local.hypervisor import Hypervisor
from cbas_async.local.imds_server import ImdsEmulator
from cbas_async.loops import every

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client
    from types_aiobotocore_sns import SNSClient

log = structlog.get_logger(__name__)


def spot_warning(instance_id: str, region: str, at: str) -> dict[str, object]:
    """The event EC2 sends through EventBridge two minutes before reclaiming an instance."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "EC2 Spot Instance Interruption Warning",
        "source": "aws.ec2",
        "account": "123456789012",
        "time": at,
        "region": region,
        "resources": [f"arn:aws:ec2:{region}:123456789012:instance/{instance_id}"],
        "detail": {"instance-id": instance_id, "instance-action": "terminate"},
    }


@dataclass(frozen=True, slots=True)
class RegionLink:
    """One region's EC2, and the SNS topic its EventBridge events go to."""

    ec2: EC2Client
    sns: SNSClient
    events_topic_arn: str


class Interrupter:
    """Serves notices and carries out the terminations when their time comes, for the
    instances of every region (`regions`: each region's link)."""

    name = "interrupter"

    def __init__(
        self,
        *,
        hypervisor: Hypervisor,
        imds: ImdsEmulator,
        regions: Mapping[str, RegionLink],
        notice_s: float,
        clock: Clock,
    ) -> None:
        self._hypervisor = hypervisor
        self._imds = imds
        self._regions = dict(regions)
        self.notice_s = notice_s
        self._clock = clock
        self._due: dict[str, tuple[float, str]] = {}  # instance id -> (kill time, region)

    async def interrupt(self, job_id: str) -> str | None:
        """Warn the instance running `job_id`; returns its id, or None if none runs."""
        local = self._hypervisor.find(job_id)
        if local is None or local.instance_id in self._due:
            return None if local is None else local.instance_id
        at = self._clock.now() + timedelta(seconds=self.notice_s)
        self._imds.interrupt(local.instance_id, at=at)
        region = local.region or next(iter(self._regions))
        link = self._regions[region]
        self._due[local.instance_id] = (self._clock.monotonic() + self.notice_s, region)
        event = spot_warning(local.instance_id, region, utc_iso(self._clock.now()))
        try:
            await link.sns.publish(TopicArn=link.events_topic_arn, Message=json.dumps(event))
        except (ClientError, ResponseParserError) as exc:  # the IMDS notice still stands
            # moto answers a publish with an HTML 500 when it cannot deliver to a subscriber
            # (a master killed with -9 leaves its HTTP subscription behind)
            log.warning("spot_warning_publish_failed", error=str(exc))
        log.info("interruption_noticed", job_id=job_id, instance_id=local.instance_id)
        return local.instance_id

    async def run(self, stopping: asyncio.Event) -> None:
        await every(0.2, self.reclaim_due, stopping=stopping, clock=self._clock, log_event=None)

    async def reclaim_due(self) -> None:
        now = self._clock.monotonic()
        for instance_id, (due, region) in list(self._due.items()):
            if due <= now:
                del self._due[instance_id]
                self._hypervisor.kill(instance_id)
                await self._regions[region].ec2.terminate_instances(InstanceIds=[instance_id])
                log.info("instance_reclaimed", instance_id=instance_id)
