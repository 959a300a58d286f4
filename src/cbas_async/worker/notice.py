"""The interruption watcher: polls IMDS `spot/instance-action` until a notice appears."""

from __future__ import annotations

import asyncio

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
