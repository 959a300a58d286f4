"""Long-polls the masters' events queue, where the events topic delivers EC2's events (spot
warnings, state changes), and hands each verified notification to the same dispatch as the
/sns route, so the master needs no inbound port."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import structlog

from cbas_async.clock import Clock
from cbas_async.loops import unless_stopped
from cbas_async.sns_envelope import SnsEnvelope
from cbas_async.sns_intake import Refused, SnsIntake

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient

log = structlog.get_logger(__name__)

Dispatch = Callable[[SnsEnvelope], Awaitable[None]]

_RETRY_LATER = 503  # the intake's answer when a signing certificate cannot be fetched now


class EventsPoller:
    """Receives up to 10 SNS envelopes per long poll (raw delivery is off); each goes
    through the `SnsIntake` (parse, verify, our topic, not a duplicate), then `dispatch`.

    A message is deleted once handled, and also when refused (malformed, forged, another
    topic: logged and dropped, never acted on) or a duplicate. One that failed for a
    passing reason (a certificate that cannot be fetched now, a handler that raised) is
    left in the queue, and SQS delivers it again after its visibility timeout. Masters
    share the queue, so each message reaches one of them; the handlers are idempotent.
    """

    name = "events-poller"

    def __init__(
        self,
        *,
        sqs: SQSClient,
        queue_url: str,
        intake: SnsIntake,
        dispatch: Dispatch,
        clock: Clock,
        wait_s: int = 20,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._intake = intake
        self._dispatch = dispatch
        self._clock = clock
        self._wait_s = wait_s
        self.handled = 0
        self.dropped = 0

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await unless_stopped(self.poll_once(), stopping)
            except Exception:
                log.exception("events_poll_failed")
                await self._clock.sleep(1.0)

    async def poll_once(self) -> int:
        """One long poll: returns how many messages it received."""
        response = await self._sqs.receive_message(
            QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=self._wait_s
        )
        messages = response.get("Messages", [])
        done = [m["ReceiptHandle"] for m in messages if await self._handle(dict(m))]
        if done:
            entries = [{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(done)]
            await self._sqs.delete_message_batch(QueueUrl=self._queue_url, Entries=entries)  # type: ignore[arg-type]
        return len(messages)

    async def _handle(self, message: dict[str, Any]) -> bool:
        """True when the message is done with (handled, dropped or a duplicate)."""
        accepted = await self._intake.accept(str(message.get("Body", "")).encode())
        if isinstance(accepted, Refused):
            if accepted.status == _RETRY_LATER:
                return False
            self.dropped += 1
            log.warning(
                "events_message_dropped",
                problem=accepted.problem,
                sqs_message_id=message.get("MessageId"),
            )
            return True
        if isinstance(accepted, str):
            return True  # a duplicate: already handled here
        if accepted.type != "Notification":
            log.info("events_message_ignored", type=accepted.type)
            return True
        try:
            await self._dispatch(accepted)
        except Exception:  # the boundary of one message
            self._intake.forget(accepted)
            log.exception("events_message_failed", message_id=accepted.message_id)
            return False
        self.handled += 1
        return True
