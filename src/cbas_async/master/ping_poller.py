"""Long-polls the ping queue and turns each heartbeat into a `WorkerPinged` event."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import structlog

from cbas_async.bus import Bus
from cbas_async.clock import Clock
from cbas_async.errors import InvalidMessage
from cbas_async.events import WorkerPinged
from cbas_async.loops import unless_stopped
from cbas_async.master.health import Health
from cbas_async.messages import Ping, decode

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient

log = structlog.get_logger(__name__)


class PingPoller:
    """Receives pings in batches of 10, publishes them, then deletes the batch.

    Malformed pings are logged and deleted; they never stop the poller. A ping is deleted
    only after it was published, so a crash in between means a redelivery, which the
    handlers tolerate (they are idempotent).
    """

    name = "ping-poller"

    def __init__(
        self,
        *,
        sqs: SQSClient,
        queue_url: str,
        bus: Bus,
        clock: Clock,
        health: Health,
        wait_s: int = 20,
        region: str = "",
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._bus = bus
        self._clock = clock
        self._health = health
        self._wait_s = wait_s
        self.region = region  # whose ping queue ("": this master's own), for the logs
        self.received = 0
        self.malformed = 0

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await unless_stopped(self.poll_once(), stopping)
            except Exception:
                log.exception("ping_poll_failed", region=self.region or None)
                await self._clock.sleep(1.0)

    async def poll_once(self) -> int:
        """One long poll: returns how many messages it handled."""
        response = await self._sqs.receive_message(
            QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=self._wait_s
        )
        self._health.mark("sqs")
        messages = response.get("Messages", [])
        for message in messages:
            await self._publish(dict(message))
        if messages:
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ]
            await self._sqs.delete_message_batch(QueueUrl=self._queue_url, Entries=entries)  # type: ignore[arg-type]
        return len(messages)

    async def _publish(self, message: dict[str, Any]) -> None:
        self.received += 1
        try:
            ping = decode(Ping, message.get("Body", ""))
        except InvalidMessage as exc:
            self.malformed += 1
            log.warning("ping_malformed", error=str(exc), message_id=message.get("MessageId"))
            return
        await self._bus.publish(WorkerPinged(ping=ping, received_at=self._clock.now()))
