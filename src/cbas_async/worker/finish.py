"""How a run ends: the final state, outputs, logs and the last checkpoint, per outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog

from cbas_async.clock import Clock
from cbas_async.errors import StaleWrite
from cbas_async.jobs import JobSpec
from cbas_async.records import CheckpointPointer
from cbas_async.sandbox import Sandbox
from cbas_async.states import JobState
from cbas_async.worker.checkpoint.manager import CheckpointManager
from cbas_async.worker.heartbeat import Progress
from cbas_async.worker.jobwriter import JobWriter
from cbas_async.worker.logship import LogShipper
from cbas_async.worker.outputs import assemble_stream, missing_reason, sandbox_path
from cbas_async.worker.paths import JobPaths
from cbas_async.worker.runner import JobProcess, describe_exit, tail_lines
from cbas_async.worker.timing import StepTimer

log = structlog.get_logger(__name__)

RUNNING = {JobState.RUNNING}


def stop_budget_s(remaining_s: float, last_save_s: float) -> float:
    """How long the job may take to stop after a notice: what is left of the notice less an
    upload margin (twice the last checkpoint's save time, at least 1 s, at most half)."""
    margin_s = min(remaining_s / 2, max(1.0, 2 * last_save_s))
    return max(0.0, remaining_s - margin_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFacts:
    """What the finisher needs to know about the run."""

    job_id: str
    attempt: int
    spec: JobSpec
    paths: JobPaths
    resumed: bool
    default_notice_s: float


class Finisher:
    """Ends a run; raises `StaleWrite` when the job turned out not to be ours any more."""

    def __init__(
        self,
        *,
        facts: RunFacts,
        writer: JobWriter,
        manager: CheckpointManager,
        shipper: LogShipper,
        sandbox: Sandbox,
        progress: Progress,
        clock: Clock,
    ) -> None:
        self._facts = facts
        self._writer = writer
        self._manager = manager
        self._shipper = shipper
        self._sandbox = sandbox
        self._progress = progress
        self._clock = clock

    async def exited(self, code: int) -> None:
        """The job ended by itself: SUCCEEDED with its outputs, or FAILED saying why."""
        self._progress.phase = "finishing"
        await self._shipper.flush()
        await self._write_std_streams()
        if code != 0:
            await self._fail(code, self._exit_reason(code))
            return
        facts = self._facts
        missing = await self._sandbox.upload_outputs(
            facts.job_id, facts.paths.work, facts.spec.output_files
        )
        if missing:
            await self._fail(code, missing_reason(missing))
            return
        await self._writer.move(RUNNING, JobState.SUCCEEDED, updates={"exit_code": 0})
        log.info("job_finished", state="SUCCEEDED", exit_code=0)

    async def interrupted(self, job: JobProcess, *, deadline: datetime | None, detail: str) -> None:
        """Final checkpoint (within the notice), logs, then INTERRUPTED; one line per step."""
        timer = StepTimer(self._clock, "interruption_step", detail=detail)
        remaining_s = self._remaining_s(deadline)
        budget_s = stop_budget_s(remaining_s, self._manager.last_save_s)
        pointer = await self._final_checkpoint(job, budget_s, timer)
        durable_s = timer.elapsed_s
        async with timer.step("kill_job"):
            await job.kill()
        if job.returncode == 0 and not job.signalled:
            log.info("job_finished_during_notice")
            await self.exited(0)
            return
        async with timer.step("ship_logs"):
            await self._shipper.flush()
        async with timer.step("transition"):
            await self._writer.move(RUNNING, JobState.INTERRUPTED, detail=detail)
        log.info(
            "interruption_handled",
            detail=detail,
            notice_to_durable_s=round(durable_s, 3),
            total_s=round(timer.elapsed_s, 3),
            notice_left_s=round(remaining_s - timer.elapsed_s, 3),
            checkpoint_seq=pointer.seq if pointer else None,
            checkpoint_bytes=pointer.size_bytes if pointer else None,
        )

    async def abandon(self, job: JobProcess, reason: str) -> None:
        """Stop the job and ship its logs; the job record is not ours to write."""
        log.info("run_abandoned", reason=reason)
        await job.kill()
        await self._shipper.flush()

    async def _final_checkpoint(
        self, job: JobProcess, budget_s: float, timer: StepTimer
    ) -> CheckpointPointer | None:
        try:
            return await self._manager.take_final(job, budget_s=budget_s, timer=timer)
        except StaleWrite:
            raise
        except Exception as exc:  # the previous checkpoint still stands
            log.error("final_checkpoint_failed", error=repr(exc))
            return None

    def _remaining_s(self, deadline: datetime | None) -> float:
        if deadline is None:
            return self._facts.default_notice_s
        return max(0.0, (deadline - self._clock.now()).total_seconds())

    def _exit_reason(self, code: int) -> str:
        tail = tail_lines(self._facts.paths.stderr)
        return f"{describe_exit(code)}; stderr tail:\n{tail}" if tail else describe_exit(code)

    async def _fail(self, code: int, reason: str) -> None:
        updates = {"exit_code": code, "reason": reason}
        await self._writer.move(RUNNING, JobState.FAILED, updates=updates, detail=reason[:200])
        log.info("job_finished", state="FAILED", exit_code=code, reason=reason[:200])

    async def _write_std_streams(self) -> None:
        facts = self._facts
        for stream, name, local in (
            ("stdout", facts.spec.stdout, facts.paths.stdout),
            ("stderr", facts.spec.stderr, facts.paths.stderr),
        ):
            if name:
                await assemble_stream(
                    self._sandbox,
                    job_id=facts.job_id,
                    attempt=facts.attempt,
                    stream=stream,
                    local=local,
                    target=sandbox_path(facts.paths.work, name),
                    with_earlier=facts.resumed,
                )
