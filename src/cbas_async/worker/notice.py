"""The interruption watcher: polls IMDS `spot/instance-action` until a notice appears; the
rebalance watcher polls `events/recommendations/rebalance` for EC2's earlier hint."""

from __future__ import annotations

import asyncio
from datetime import datetime

import structlog

from cbas_async.clock import Clock
from cbas_async.loops import sleep_or_stop
from cbas_async.worker.imds import ImdsClient, InstanceAction

log = structlog.get_logger(__name__)


class NoticeWatcher:
    """Polls every `poll_s` (AWS advises 5 s); an IMDS hiccup is logged and polled again."""

    def __init__(self, *, imds: ImdsClient, clock: Clock, poll_s: float) -> None:
        self._imds = imds
        self._clock = clock
        self._poll_s = poll_s

    async def poll_once(self) -> InstanceAction | None:
        try:
            return await self._imds.instance_action()
        except Exception as exc:
            log.warning("notice_poll_failed", error=repr(exc))
            return None

    async def run(self, stopping: asyncio.Event) -> InstanceAction | None:
        """The first notice, or None once `stopping` is set."""
        while True:
            notice = await self.poll_once()
            if notice is not None:
                log.info("interruption_notice", action=notice.action, at=notice.time.isoformat())
                return notice
            if await sleep_or_stop(self._clock, self._poll_s, stopping):
                return None


class RebalanceWatcher:
    """Polls every `poll_s` for a rebalance recommendation; each one (by its notice time) is
    reported once, so the worker checkpoints once per recommendation, not once per poll."""

    def __init__(self, *, imds: ImdsClient, clock: Clock, poll_s: float) -> None:
        self._imds = imds
        self._clock = clock
        self._poll_s = poll_s
        self._seen: datetime | None = None

    async def poll_once(self) -> datetime | None:
        """A recommendation not reported before, or None."""
        try:
            at = await self._imds.rebalance_recommendation()
        except Exception as exc:
            log.warning("rebalance_poll_failed", error=repr(exc))
            return None
        if at is None or at == self._seen:
            return None
        self._seen = at
        return at

    async def next(self, stopping: asyncio.Event) -> datetime | None:
        """The next new recommendation, or None once `stopping` is set."""
        while True:
            at = await self.poll_once()
            if at is not None:
                log.info("rebalance_recommended", at=at.isoformat())
                return at
            if await sleep_or_stop(self._clock, self._poll_s, stopping):
                return None
