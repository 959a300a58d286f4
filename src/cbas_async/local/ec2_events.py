"""EC2 state-change events on the local cloud: what EventBridge's rule does on AWS (EC2
"Instance State-change Notification" -> the events topic), for the deployment's instances,
found by polling DescribeInstances."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import structlog
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from cbas_async.clock import Clock
from cbas_async.local.ec2_instances import deployment_instances, state_of
from cbas_async.loops import every
from cbas_async.state_events import state_change

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client
    from types_aiobotocore_sns import SNSClient

log = structlog.get_logger(__name__)

EMITTED = frozenset({"pending", "running", "shutting-down", "terminated", "stopped"})
ACCOUNT = "123456789012"  # moto's account


class StateChangeEmitter:
    """Publishes one event per observed change into a state EC2 reports (an instance first
    seen already running gets its current state). A poll sees only the state at that moment,
    so a state held for less than `poll_s` may go unreported, which EC2 never does; the
    master acts on any of the states that mean "gone", so that loses nothing it needs."""

    name = "ec2-events"

    def __init__(
        self,
        *,
        ec2: EC2Client,
        sns: SNSClient,
        events_topic_arn: str,
        deployment: str,
        region: str,
        clock: Clock,
        poll_s: float = 0.5,
    ) -> None:
        self._ec2 = ec2
        self._sns = sns
        self._topic = events_topic_arn
        self._deployment = deployment
        self._region = region
        self._clock = clock
        self._poll_s = poll_s
        self._states: dict[str, str] = {}

    async def run(self, stopping: asyncio.Event) -> None:
        await every(
            self._poll_s,
            self.poll_once,
            stopping=stopping,
            clock=self._clock,
            log_event="ec2_events_poll_failed",
        )

    async def poll_once(self) -> int:
        """Publish the transitions since the last poll; returns how many."""
        published = 0
        for instance_id, state in (await self._current()).items():
            if self._states.get(instance_id) == state:
                continue
            self._states[instance_id] = state
            if state in EMITTED:
                await self._publish(instance_id, state)
                published += 1
        return published

    async def _current(self) -> dict[str, str]:
        found = await deployment_instances(self._ec2, self._deployment)
        return {instance_id: state_of(instance) for instance_id, instance in found.items()}

    async def _publish(self, instance_id: str, state: str) -> None:
        event = state_change(
            instance_id, state, region=self._region, account=ACCOUNT, at=self._clock.now()
        )
        try:
            await self._sns.publish(TopicArn=self._topic, Message=json.dumps(event))
        except (ClientError, ResponseParserError) as exc:
            # moto answers a publish with an HTML 500 when a subscriber cannot be reached
            # (a master killed with -9 leaves its HTTP subscription behind)
            log.warning("state_change_publish_failed", instance_id=instance_id, error=str(exc))
            return
        log.info("instance_state_changed", instance_id=instance_id, state=state)
