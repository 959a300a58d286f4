"""One worker's life with its job: check it is ours, prepare, run, conclude.

A worker started again on the same instance (its supervisor restarts a process that died)
finds its attempt RUNNING there and resumes it from the last checkpoint, keeping the attempt.

Every store write carries the attempt; a `StaleWrite` anywhere means a newer attempt (or
the master) owns the job: the worker stops the job and exits without writing again.
"""

from __future__ import annotations

import asyncio
import os
from typing import assert_never

import structlog

from cbas_async.aws import Clients
from cbas_async.clock import Clock
from cbas_async.errors import JobNotFound, StaleWrite
from cbas_async.jobs import JobSpec
from cbas_async.records import JobRecord
from cbas_async.states import JobState
from cbas_async.store import JobStore
from cbas_async.worker.buckets import Buckets
from cbas_async.worker.checkpoint import Checkpointer, CheckpointUnavailable, make_checkpointer
from cbas_async.worker.checkpoint.archive import fingerprint
from cbas_async.worker.checkpoint.manager import CheckpointManager
from cbas_async.worker.checkpoint.storage import CheckpointStorage
from cbas_async.worker.finish import Finisher, RunFacts
from cbas_async.worker.heartbeat import Progress
from cbas_async.worker.imds import Identity
from cbas_async.worker.jobuser import JobUser, JobUserUnavailable, resolve_job_user
from cbas_async.worker.jobwriter import JobWriter
from cbas_async.worker.logship import LogShipper
from cbas_async.worker.retry import retrying
from cbas_async.worker.run_phase import Abandoned, Exited, Noticed, Outcome, ShutdownRequested
from cbas_async.worker.runner import JobProcess, job_environment
from cbas_async.worker.services import Services

log = structlog.get_logger(__name__)


class Worker:
    """Runs one attempt of one job on this instance, from user data to a final state."""

    def __init__(
        self, *, identity: Identity, clients: Clients, buckets: Buckets, services: Services
    ) -> None:
        self._data = data = identity.user_data
        self._instance_id = identity.instance_id
        self._services = services
        self._clock: Clock = services.clock
        self._store = JobStore(
            dynamo=clients.dynamo,
            jobs_table=data.jobs_table,
            events_table=data.events_table,
            misc_table=data.misc_table,
        )
        self._sandbox = buckets.files  # inputs, outputs, logs: the home region's bucket
        self._checkpoints = buckets.checkpoints  # this region's bucket
        self._writer = JobWriter(
            store=self._store,
            job_id=data.job_id,
            attempt=data.attempt,
            actor=f"worker:{identity.instance_id}",
            clock=self._clock,
        )
        self._paths = services.paths
        self._progress = Progress()
        self._user: JobUser | None = None

    async def run(self) -> int:
        """0 whatever became of the job (it is recorded); exceptions mean a crash."""
        record = await self._load()
        if record is None:
            return 0
        spec = record.spec
        try:
            self._user = await asyncio.to_thread(resolve_job_user, euid=os.geteuid())
        except JobUserUnavailable as exc:
            await self._fail_early(exc.reason)
            return 0
        checkpointer = make_checkpointer(
            spec.checkpoint.method,
            paths=self._paths,
            clock=self._clock,
            base_env=self._services.job_env,
            dmtcp_bin=self._services.dmtcp_bin,
            user=self._user,
        )
        try:
            await checkpointer.prepare()
        except CheckpointUnavailable as exc:
            await self._fail_early(exc.reason)
            return 0
        await asyncio.to_thread(self._paths.reset, self._user)
        await self._run_attended(record, spec, checkpointer)
        return 0

    async def _load(self) -> JobRecord | None:
        """The job if this worker's attempt may run it; None for a stale worker."""
        deadline = self._clock.monotonic() + self._services.pending_wait_s
        while True:
            try:
                record = await self._writer.read()
            except JobNotFound:
                log.warning("stale_worker", reason="no such job")
                return None
            mine = record.attempt == self._data.attempt and self._on_my_instance(record)
            if mine and record.state in (JobState.LAUNCHING, JobState.RUNNING):
                if record.state is JobState.RUNNING:  # restarted on this instance: resume
                    seq = record.checkpoint and record.checkpoint.seq
                    log.info("worker_resuming", checkpoint=seq)
                return record
            if not (mine and record.state is JobState.PENDING):
                break
            if self._clock.monotonic() >= deadline:
                break
            await self._clock.sleep(0.5)
        log.warning("stale_worker", state=record.state.value, job_attempt=record.attempt)
        return None

    def _on_my_instance(self, record: JobRecord) -> bool:
        """Whether the attempt runs on this instance (or the master has not yet recorded
        where): a restarted worker keeps its attempt only on the instance it was given."""
        placed = record.placement.instance_id if record.placement else None
        return placed in (None, self._instance_id)

    async def _fail_early(self, reason: str) -> None:
        log.error("job_cannot_run", reason=reason)
        try:
            await self._writer.move(
                {JobState.LAUNCHING, JobState.RUNNING},
                JobState.FAILED,
                updates={"reason": reason},
                detail=reason[:200],
            )
        except StaleWrite as exc:
            log.info("worker_superseded", reason=exc.reason)

    async def _run_attended(
        self, record: JobRecord, spec: JobSpec, checkpointer: Checkpointer
    ) -> None:
        """Run with heartbeats, log shipping and the command endpoint alongside."""
        stop = asyncio.Event()
        shipper = LogShipper(
            sandbox=self._sandbox,
            job_id=self._data.job_id,
            attempt=self._data.attempt,
            files={"stdout": self._paths.stdout, "stderr": self._paths.stderr},
            clock=self._clock,
            interval_s=self._services.log_interval_s,
        )
        await shipper.resume_numbering()
        async with self._services.endpoint(), asyncio.TaskGroup() as tg:
            tg.create_task(self._services.heartbeat(self._progress).run(stop))
            tg.create_task(shipper.run(stop))
            try:
                await self._run_job(record, spec, checkpointer, shipper)
            except StaleWrite as exc:
                log.info("worker_superseded", reason=exc.reason)
            finally:
                stop.set()

    async def _run_job(
        self,
        record: JobRecord,
        spec: JobSpec,
        checkpointer: Checkpointer,
        shipper: LogShipper,
    ) -> None:
        await self._writer.move({JobState.LAUNCHING}, JobState.RUNNING)
        storage = CheckpointStorage(
            store=self._store,
            sandbox=self._checkpoints,
            job_id=self._data.job_id,
            attempt=self._data.attempt,
            method=checkpointer.method,
            clock=self._clock,
            region=self._data.region,
        )
        manager = CheckpointManager(
            checkpointer=checkpointer, storage=storage, progress=self._progress, clock=self._clock
        )
        resumed = await self._stage(record, checkpointer, storage, manager)
        finisher = self._finisher(spec, manager, shipper, resumed=resumed)
        try:
            job = await self._launch(spec, checkpointer)
            if job is not None:
                await self._supervise(job, manager, finisher)
        finally:
            await checkpointer.close()

    async def _supervise(
        self, job: JobProcess, manager: CheckpointManager, finisher: Finisher
    ) -> None:
        """Run the session to its outcome and conclude; the job never outlives this."""
        try:
            self._progress.phase = "running"
            outcome = await self._services.run_phase(job, manager, self._writer).run()
            await _conclude(outcome, job, finisher)
        finally:
            await job.kill()

    def _finisher(
        self, spec: JobSpec, manager: CheckpointManager, shipper: LogShipper, *, resumed: bool
    ) -> Finisher:
        facts = RunFacts(
            job_id=self._data.job_id,
            attempt=self._data.attempt,
            spec=spec,
            paths=self._paths,
            resumed=resumed,
            default_notice_s=self._services.default_notice_s,
        )
        return Finisher(
            facts=facts,
            writer=self._writer,
            manager=manager,
            shipper=shipper,
            sandbox=self._sandbox,
            progress=self._progress,
            clock=self._clock,
        )

    async def _stage(
        self,
        record: JobRecord,
        checkpointer: Checkpointer,
        storage: CheckpointStorage,
        manager: CheckpointManager,
    ) -> bool:
        """Inputs into the sandbox, the latest good checkpoint into the state directory."""
        job_id = self._data.job_id
        # each request is retried by the S3 client; this retries a body that broke off
        await retrying(
            lambda: self._sandbox.download_area(job_id, "input", self._paths.work),
            clock=self._clock,
            what="download_inputs",
        )
        storage.continue_after(record.checkpoint)
        storage.continue_after(record.checkpoint_prev)
        restored = await storage.restore(
            self._paths.state, self._paths.download, checkpointer.accepts
        )
        if restored is None:
            return False
        own = restored.attempt == self._data.attempt
        self._progress.checkpoint_seq = restored.seq if own else 0
        manager.remember(await asyncio.to_thread(fingerprint, self._paths.state))
        return True

    async def _launch(self, spec: JobSpec, checkpointer: Checkpointer) -> JobProcess | None:
        if self._user is not None:
            blocked = await asyncio.to_thread(self._paths.hand_over, self._user)
            if blocked is not None:
                await self._not_started(f"the job user cannot reach {blocked}")
                return None
        argv = await checkpointer.launch_argv(spec.command)
        ours = {
            "CBAS_CHECKPOINT_DIR": str(self._paths.state),
            "CBAS_JOB_ID": self._data.job_id,
            "CBAS_ATTEMPT": str(self._data.attempt),
            **checkpointer.environment(),
        }
        base, home = self._services.job_env, self._paths.work
        env = job_environment(base, spec.env, ours, user=self._user, home=home)
        try:
            return await JobProcess.start(
                argv,
                cwd=self._paths.work,
                env=env,
                stdout=self._paths.stdout,
                stderr=self._paths.stderr,
                user=self._user,
            )
        except OSError as exc:
            await self._not_started(f"cannot start {argv[0]!r}: {exc.strerror or exc}")
            return None

    async def _not_started(self, reason: str) -> None:
        log.error("job_not_started", reason=reason)
        updates = {"reason": reason}
        await self._writer.move({JobState.RUNNING}, JobState.FAILED, updates=updates, detail=reason)


async def _conclude(outcome: Outcome, job: JobProcess, finisher: Finisher) -> None:
    match outcome:
        case Exited(code):
            await finisher.exited(code)
        case Noticed(notice):
            detail = "spot interruption notice"
            await finisher.interrupted(job, deadline=notice.time, detail=detail)
        case ShutdownRequested(source):
            await finisher.interrupted(job, deadline=None, detail=source)
        case Abandoned(reason):
            await finisher.abandon(job, reason)
        case _:
            assert_never(outcome)
