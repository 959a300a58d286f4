"""Helpers for worker tests: user data, a local cloud around the moto server, polling."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources
from cbas_async.clock import SystemClock
from cbas_async.hostpath import HOST_PATH
from cbas_async.jobs import parse_spec
from cbas_async.local.imds_server import ImdsEmulator
from cbas_async.messages import UserData
from cbas_async.records import JobPlacement, JobRecord
from cbas_async.sandbox import Sandbox
from cbas_async.settings import Settings
from cbas_async.states import JobState
from cbas_async.store import JobStore
from cbas_async.worker.agent import run_worker
from cbas_async.worker.options import WorkerOptions
from tests.fakes import FakeClock

T = TypeVar("T")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
_instances = itertools.count(1)


def user_data_for(job_id: str, *, attempt: int = 1, **overrides: Any) -> UserData:
    """User data with placeholder resources (for tests that never reach AWS)."""
    fields: dict[str, Any] = {
        "job_id": job_id,
        "attempt": attempt,
        "deployment": "test",
        "region": "us-east-1",
        "bucket": "b",
        "ping_queue_url": "http://q",
        "topic_arn": "arn:aws:sns:us-east-1:123456789012:test-commands",
        "jobs_table": "test-jobs",
        "events_table": "test-job-events",
        "misc_table": "test-misc",
        "heartbeat_interval_s": 0.5,
        "notice_poll_s": 0.2,
        "checkpoint_interval_s": 1.0,
        "sns_verify": False,
        "master_id": "m-test",
    }
    return UserData(**{**fields, **overrides})


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout_s: float = 20.0, every_s: float = 0.05
) -> T:
    """Poll `probe` until it returns something other than None (or False), with a deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = await probe()
        if found is not None and found is not False:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(every_s)


async def until_asleep(clock: FakeClock) -> None:
    """Wait (in real time, with a deadline) until some task sleeps on the fake clock."""

    async def asleep() -> bool:
        return clock.sleepers > 0

    await eventually(asleep, every_s=0.005)


@dataclass
class LocalCloud:
    """The moto server, bootstrapped, with an IMDS emulator: enough to run workers."""

    settings: Settings
    clients: Clients
    resources: Resources
    emulator: ImdsEmulator
    tmp_path: Path

    @property
    def store(self) -> JobStore:
        r = self.resources
        return JobStore(
            dynamo=self.clients.dynamo,
            jobs_table=r.jobs_table,
            events_table=r.events_table,
            misc_table=r.misc_table,
        )

    @property
    def sandbox(self) -> Sandbox:
        return Sandbox(s3=self.clients.s3, bucket=self.resources.bucket)

    async def submit(self, spec: Mapping[str, Any], files: Mapping[str, bytes] = {}) -> str:
        """Create the job, upload its inputs and walk it to LAUNCHING, as the master would."""
        now = SystemClock().now()
        record = await self.store.create(parse_spec(spec), now=now, actor="test")
        source = self.tmp_path / "inputs" / record.job_id
        source.mkdir(parents=True)
        for name, data in files.items():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes(data)
        await self.sandbox.upload_inputs(record.job_id, source, list(files))
        moved = await self.store.transition(
            record.job_id, {JobState.SUBMITTED}, JobState.PENDING, 0, now=now, actor="test"
        )
        await self.launch(moved)
        return record.job_id

    async def launch(self, record: JobRecord) -> None:
        await self.store.transition(
            record.job_id,
            {JobState.PENDING},
            JobState.LAUNCHING,
            record.version,
            now=SystemClock().now(),
            actor="test",
        )

    async def requeue(self, job_id: str) -> int:
        """INTERRUPTED (if still live) -> PENDING with attempt+1 -> LAUNCHING."""
        record = await self.store.get(job_id)
        now = SystemClock().now()
        if record.state in (JobState.LAUNCHING, JobState.RUNNING):
            record = await self.store.transition(
                job_id, {record.state}, JobState.INTERRUPTED, record.version, now=now, actor="t"
            )
        pending = await self.store.transition(
            job_id,
            {JobState.INTERRUPTED},
            JobState.PENDING,
            record.version,
            now=now,
            actor="test",
            new_attempt=record.attempt + 1,
        )
        await self.launch(pending)
        return pending.attempt

    async def place_on(self, job_id: str, instance_id: str, attempt: int = 1) -> None:
        """Record the attempt's instance, as the master does once EC2 answered."""
        placement = JobPlacement(
            region="us-east-1",
            instance_type="c5.large",
            checkpoint_interval_s=1.0,
            instance_id=instance_id,
        )
        await self.store.update_fields(job_id, attempt=attempt, updates={"placement": placement})

    def boot(self, job_id: str, attempt: int, **user_data: Any) -> str:
        """Register a fresh instance whose user data runs `attempt` of the job."""
        instance_id = f"i-{next(_instances):08x}"
        data = self.user_data(job_id, attempt, **user_data)
        self.emulator.register(instance_id, data.encode(), "us-east-1a")
        return instance_id

    def user_data(self, job_id: str, attempt: int, **overrides: Any) -> UserData:
        r = self.resources
        fields = {
            "endpoint_url": self.settings.endpoint_url,
            "bucket": r.bucket,
            "ping_queue_url": r.ping_queue_url,
            "topic_arn": r.topic_arn,
        }
        return user_data_for(job_id, attempt=attempt, **{**fields, **overrides})

    async def run_worker(
        self,
        instance_id: str,
        *,
        shutdown: asyncio.Event | None = None,
        env: Mapping[str, str] | None = None,
        dmtcp_bin: Path | None = None,
    ) -> int:
        """Run a worker in this process; `dmtcp_bin` replaces the settings' CBAS_DMTCP_BIN."""
        settings = self.settings.replace(
            imds_endpoint=self.emulator.endpoint(instance_id),
            dmtcp_bin=dmtcp_bin or self.settings.dmtcp_bin,
        )
        options = WorkerOptions(
            base_dir=self.tmp_path / "host",
            job_env=dict(env if env is not None else _job_env()),
            log_interval_s=0.3,
            pending_wait_s=2.0,
        )
        return await run_worker(settings, clock=SystemClock(), options=options, shutdown=shutdown)

    async def output(self, job_id: str, name: str) -> bytes:
        return await self.sandbox.read(self.sandbox.key(job_id, "output", name))

    async def log_text(self, job_id: str, stream: str, attempt: int | None = None) -> str:
        chunks = await self.sandbox.log_chunks(job_id)
        wanted = [c for c in chunks if c.stream == stream and attempt in (None, c.attempt)]
        return b"".join([await self.sandbox.read(c.key) for c in wanted]).decode()


def _job_env() -> dict[str, str]:
    return {**os.environ, "PATH": job_path()}


def job_path() -> str:
    """This process's PATH; run as root, an instance's PATH, as the hypervisor gives it: the
    job's user cannot run programs from root's home (pyenv shims)."""
    return HOST_PATH if os.geteuid() == 0 else os.environ["PATH"]
