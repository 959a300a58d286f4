"""The run phase: the job runs while periodic checkpoints, the interruption watcher, commands,
rebalance recommendations (a checkpoint at once) and an ownership check (which also sees a
move to another region) go on beside it, until the first thing that ends the run."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TypeAlias

import structlog

from cbas_async.clock import Clock
from cbas_async.errors import StaleWrite
from cbas_async.loops import sleep_or_stop
from cbas_async.messages import Command
from cbas_async.worker.checkpoint.manager import CheckpointManager
from cbas_async.worker.checkpoint.schedule import CheckpointSchedule
from cbas_async.worker.imds import InstanceAction
from cbas_async.worker.jobwriter import JobWriter
from cbas_async.worker.notice import NoticeWatcher, RebalanceWatcher
from cbas_async.worker.runner import JobProcess

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Exited:
    """The job's process ended by itself."""

    code: int


@dataclass(frozen=True, slots=True)
class Noticed:
    """A spot interruption notice arrived."""

    notice: InstanceAction


@dataclass(frozen=True, slots=True)
class ShutdownRequested:
    """The master (a command, a move to another region) or a signal to the worker asked for
    checkpoint, INTERRUPTED, exit."""

    source: str


@dataclass(frozen=True, slots=True)
class Abandoned:
    """Not ours to run any more: cancelled, or a newer attempt owns the job."""

    reason: str


Outcome: TypeAlias = Exited | Noticed | ShutdownRequested | Abandoned


class RunPhase:
    """Waits for the first outcome; every side task is cancelled once it arrives."""

    def __init__(
        self,
        *,
        job: JobProcess,
        manager: CheckpointManager,
        watcher: NoticeWatcher,
        rebalance: RebalanceWatcher,
        writer: JobWriter,
        commands: asyncio.Queue[Command],
        shutdown: asyncio.Event,
        clock: Clock,
        schedule: CheckpointSchedule,
        started_s: float,
        ownership_check_s: float,
        region: str = "",
    ) -> None:
        self._job = job
        self._manager = manager
        self._watcher = watcher
        self._rebalance_watcher = rebalance
        self._writer = writer
        self._commands = commands
        self._shutdown = shutdown
        self._clock = clock
        self._schedule = schedule
        self._started_s = started_s
        self._ownership_check_s = ownership_check_s
        self._region = region  # where this attempt runs: a move here is no move
        self._outcomes: asyncio.Queue[Outcome] = asyncio.Queue()
        self._stop = asyncio.Event()

    async def run(self) -> Outcome:
        async with asyncio.TaskGroup() as tg:
            tasks = [
                tg.create_task(self._exit()),
                tg.create_task(self._notice()),
                tg.create_task(self._rebalance()),
                tg.create_task(self._obey()),
                tg.create_task(self._periodic()),
                tg.create_task(self._ownership()),
                tg.create_task(self._signal()),
            ]
            outcome = await self._outcomes.get()
            self._stop.set()
            for task in tasks:
                task.cancel()
        log.info("run_ended", outcome=type(outcome).__name__)
        return outcome

    async def _exit(self) -> None:
        self._outcomes.put_nowait(Exited(await self._job.wait()))

    async def _notice(self) -> None:
        notice = await self._watcher.run(self._stop)
        if notice is not None:
            self._outcomes.put_nowait(Noticed(notice))

    async def _signal(self) -> None:
        await self._shutdown.wait()
        self._outcomes.put_nowait(ShutdownRequested("signal"))

    async def _obey(self) -> None:
        while True:
            command = await self._commands.get()
            if command.kind == "cancel":
                self._outcomes.put_nowait(Abandoned("cancel command"))
                return
            if command.kind == "shutdown":
                self._outcomes.put_nowait(ShutdownRequested("shutdown command"))
                return
            if not await self._checkpoint_now("checkpoint_command_failed"):
                return

    async def _rebalance(self) -> None:
        """A rebalance recommendation: checkpoint at once, in case a notice follows."""
        while await self._rebalance_watcher.next(self._stop) is not None:
            if not await self._checkpoint_now("rebalance_checkpoint_failed"):
                return

    async def _checkpoint_now(self, failure_event: str) -> bool:
        """Take a checkpoint now; False once the job is no longer ours (then the outcome is
        `Abandoned`). Any other failure is logged and the run goes on."""
        try:
            await self._manager.take(self._job)
        except StaleWrite as exc:
            self._outcomes.put_nowait(Abandoned(exc.reason))
            return False
        except Exception as exc:
            log.error(failure_event, error=repr(exc))
        return True

    async def _periodic(self) -> None:
        try:
            await self._manager.run_periodic(
                self._job, schedule=self._schedule, started_s=self._started_s, stop=self._stop
            )
        except StaleWrite as exc:
            self._outcomes.put_nowait(Abandoned(exc.reason))

    async def _ownership(self) -> None:
        """Each interval, the job record: not ours any more (a cancel, a newer attempt), or
        a master asks the attempt to move to another region (`move_to`): checkpoint and end
        INTERRUPTED, so the job resumes there."""
        while not await sleep_or_stop(self._clock, self._ownership_check_s, self._stop):
            record = await self._writer.current()
            if record is None:
                continue  # the next check will tell
            reason = self._writer.superseded(record)
            if reason is not None:
                self._outcomes.put_nowait(Abandoned(reason))
                return
            region = self._writer.move_asked(record)
            if region not in (None, self._region):
                log.info("move_asked", region=region)
                self._outcomes.put_nowait(ShutdownRequested(f"moved to {region}"))
                return
