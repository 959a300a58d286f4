"""The components that run beside the job, wired from user data, settings and options."""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AbstractAsyncContextManager

from cbas_async.aws import Clients
from cbas_async.clock import Clock
from cbas_async.messages import Command
from cbas_async.settings import Settings
from cbas_async.sns import SnsVerifier
from cbas_async.sns_certs import CertificateCache, http_fetcher
from cbas_async.worker.checkpoint.manager import CheckpointManager
from cbas_async.worker.checkpoint.schedule import CheckpointSchedule
from cbas_async.worker.heartbeat import Heartbeat, Progress
from cbas_async.worker.http import CommandEndpoint
from cbas_async.worker.imds import Identity, ImdsClient
from cbas_async.worker.jobwriter import JobWriter
from cbas_async.worker.notice import NoticeWatcher, RebalanceWatcher
from cbas_async.worker.options import WorkerOptions
from cbas_async.worker.paths import JobPaths
from cbas_async.worker.run_phase import RunPhase
from cbas_async.worker.runner import JobProcess


class Services:
    """Factories for the heartbeat, the command endpoint and the run session, plus the
    host-level values the worker's life needs."""

    def __init__(
        self,
        *,
        identity: Identity,
        clients: Clients,
        imds: ImdsClient,
        settings: Settings,
        options: WorkerOptions,
        clock: Clock,
        shutdown: asyncio.Event,
        advertise_host: str,
    ) -> None:
        self._identity = identity
        self._clients = clients
        self._imds = imds
        self._settings = settings
        self._options = options
        self._shutdown = shutdown
        self._advertise_host = advertise_host
        self._commands: asyncio.Queue[Command] = asyncio.Queue()
        self.clock = clock
        base = options.base_dir or settings.home / "worker"
        self.paths = JobPaths.under(base, identity.user_data.job_id)
        self.job_env = options.job_env
        self.dmtcp_bin = settings.dmtcp_bin
        self.pending_wait_s = options.pending_wait_s
        self.log_interval_s = options.log_interval_s
        self.default_notice_s = settings.scaled_notice_s
        self.started_s = clock.monotonic()  # the instance-hours count from here

    def heartbeat(self, progress: Progress) -> Heartbeat:
        data = self._identity.user_data
        return Heartbeat(
            sqs=self._clients.sqs,
            queue_url=data.ping_queue_url,
            job_id=data.job_id,
            attempt=data.attempt,
            instance_id=self._identity.instance_id,
            progress=progress,
            clock=self.clock,
            interval_s=data.heartbeat_interval_s,
        )

    def endpoint(self) -> AbstractAsyncContextManager[object]:
        """The SNS command endpoint when the user data asks for one; else nothing listens
        (a cancel is seen on the job record, `RunPhase`'s ownership check)."""
        data = self._identity.user_data
        if not data.command_endpoint:
            return contextlib.nullcontext()
        certificates = CertificateCache(fetch=http_fetcher(self._clients.http), clock=self.clock)
        verifier = SnsVerifier(
            certificates=certificates, region=data.region, enabled=data.sns_verify, clock=self.clock
        )
        return CommandEndpoint(
            sns=self._clients.sns,
            http=self._clients.http,
            verifier=verifier,
            strict=data.sns_verify,
            topic_arn=data.topic_arn,
            region=data.region,
            identity=(self._identity.instance_id, data.job_id, data.attempt),
            commands=self._commands,
            bind_host=self._settings.http_host,
            port=self._options.http_port,
            advertise_host=self._advertise_host,
        )

    def run_phase(self, job: JobProcess, manager: CheckpointManager, writer: JobWriter) -> RunPhase:
        data = self._identity.user_data
        poll_s = data.notice_poll_s
        watcher = NoticeWatcher(imds=self._imds, clock=self.clock, poll_s=poll_s)
        return RunPhase(
            job=job,
            manager=manager,
            watcher=watcher,
            rebalance=RebalanceWatcher(imds=self._imds, clock=self.clock, poll_s=poll_s),
            writer=writer,
            commands=self._commands,
            shutdown=self._shutdown,
            clock=self.clock,
            schedule=CheckpointSchedule(
                interval_s=data.checkpoint_interval_s,
                every_hours=data.checkpoint_every_hours,
                hour_s=data.billing_hour_s,
                margin_s=120.0 * data.billing_hour_s / 3600.0,
            ),
            started_s=self.started_s,
            ownership_check_s=data.heartbeat_interval_s,
            region=data.region,
        )
