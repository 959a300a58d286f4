"""Heartbeats: a `Ping` to the master's SQS queue every interval while the worker lives."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import structlog

from cbas_async.clock import Clock, utc_iso
from cbas_async.loops import every
from cbas_async.messages import Ping

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient

log = structlog.get_logger(__name__)

Phase = Literal["starting", "running", "checkpointing", "finishing"]


@dataclass(slots=True)
class Progress:
    """What the worker is doing, as its pings report it; shared and updated by the worker."""

    phase: Phase = "starting"
    checkpoint_seq: int = 0


class Heartbeat:
    """Pings at once, then every `interval_s`; a failed send is logged, never fatal
    (the next beat is the retry)."""

    def __init__(
        self,
        *,
        sqs: SQSClient,
        queue_url: str,
        job_id: str,
        attempt: int,
        instance_id: str,
        progress: Progress,
        clock: Clock,
        interval_s: float,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._job_id = job_id
        self._attempt = attempt
        self._instance_id = instance_id
        self._progress = progress
        self._clock = clock
        self._interval_s = interval_s
        self._seq = 0

    async def run(self, stopping: asyncio.Event) -> None:
        await self.beat_once()  # at once, even when already stopping
        await every(
            self._interval_s,
            self.beat_once,
            stopping=stopping,
            clock=self._clock,
            log_event=None,  # `beat_once` logs a failed send
            wait_first=True,
        )

    def ping(self) -> Ping:
        return Ping(
            job_id=self._job_id,
            attempt=self._attempt,
            instance_id=self._instance_id,
            seq=self._seq,
            checkpoint_seq=self._progress.checkpoint_seq,
            sent_at=utc_iso(self._clock.now()),
            phase=self._progress.phase,
        )

    async def beat_once(self) -> bool:
        """Send one ping; returns whether SQS took it."""
        ping = self.ping()
        self._seq += 1
        try:
            await self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=ping.encode())
        except Exception as exc:
            log.warning("heartbeat_failed", seq=ping.seq, error=repr(exc))
            return False
        return True
