"""The local hypervisor: every instance the master launches through the (moto) EC2 API
becomes a `cbas worker` process; when the process exits, the instance is terminated, and
when EC2 terminates the instance, the process is killed, as on a real host.

Every instance of a job keeps that job's files at the same absolute path
(`<jobs_dir>/<job_id>/`), as on real hosts whose disks share a layout: DMTCP restores
files where they were. Because those paths are shared on this one machine, an older
attempt's worker is killed before a newer attempt of the same job boots."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from cbas_async.clock import Clock
from cbas_async.fleet.tags import tag_value
from cbas_async.hostpath import HOST_PATH
from cbas_async.local.imds_server import ImdsEmulator
from cbas_async.loops import every

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client

log = structlog.get_logger(__name__)


@dataclass
class LocalInstance:
    """One running worker process standing in for an EC2 instance."""

    instance_id: str
    job_id: str
    attempt: int
    process: asyncio.subprocess.Process
    log_path: Path


class Hypervisor:
    """Starts, watches and stops worker processes for this deployment's instances."""

    name = "hypervisor"

    def __init__(
        self,
        *,
        ec2: EC2Client,
        imds: ImdsEmulator,
        deployment: str,
        worker_env: Mapping[str, str],
        root: Path,
        jobs_dir: Path,
        clock: Clock,
        poll_s: float = 0.3,
    ) -> None:
        self._ec2 = ec2
        self._imds = imds
        self._deployment = deployment
        self._worker_env = dict(worker_env)
        self._root = root
        self._jobs_dir = jobs_dir.absolute()
        self._clock = clock
        self._poll_s = poll_s
        self.instances: dict[str, LocalInstance] = {}
        self._done: set[str] = set()

    async def run(self, stopping: asyncio.Event) -> None:
        try:
            await every(
                self._poll_s,
                self.poll_once,
                stopping=stopping,
                clock=self._clock,
                log_event="hypervisor_poll_failed",
            )
        finally:
            await self.kill_all()

    async def poll_once(self) -> None:
        """Start processes for new instances, reap exited ones, kill terminated ones."""
        states = await self._instance_states()
        for instance_id, (state, instance) in states.items():
            known = instance_id in self.instances or instance_id in self._done
            if state in ("pending", "running") and not known:
                await self._start(instance)
        for instance_id, local in list(self.instances.items()):
            state = states.get(instance_id, ("gone", {}))[0]
            if local.process.returncode is not None:
                await self._reap(local)
            elif state not in ("pending", "running"):
                log.info("instance_terminated_killing_worker", instance_id=instance_id)
                self.kill(instance_id)

    async def _instance_states(self) -> dict[str, tuple[str, dict[str, Any]]]:
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        paginator = self._ec2.get_paginator("describe_instances")
        filters = [{"Name": "tag:cbas:deployment", "Values": [self._deployment]}]
        async for page in paginator.paginate(Filters=filters):  # type: ignore[arg-type]
            for reservation in page.get("Reservations", []):
                for instance in reservation.get("Instances", []):
                    state = instance.get("State", {}).get("Name", "unknown")
                    found[instance["InstanceId"]] = (state, dict(instance))
        return found

    async def _start(self, instance: dict[str, Any]) -> None:
        instance_id = instance["InstanceId"]
        attribute = await self._ec2.describe_instance_attribute(
            InstanceId=instance_id, Attribute="userData"
        )
        encoded = attribute.get("UserData", {}).get("Value", "")
        user_data = base64.b64decode(encoded).decode() if encoded else ""
        zone = instance.get("Placement", {}).get("AvailabilityZone", "local-1a")
        self._imds.register(instance_id, user_data, zone)
        host_dir = self._root / instance_id
        host_dir.mkdir(parents=True, exist_ok=True)
        job_id = tag_value(instance, "cbas:job_id") or "?"
        attempt = int(tag_value(instance, "cbas:attempt") or 0)
        await self._retire_older(job_id, attempt)
        env = {
            "PATH": HOST_PATH,  # what an instance has, not the PATH of whoever started us
            **self._worker_env,
            "CBAS_IMDS_ENDPOINT": self._imds.endpoint(instance_id),
            "CBAS_WORKER_DIR": str(self._jobs_dir),
        }
        log_path = host_dir / "worker.log"
        with log_path.open("ab") as sink:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "cbas_async",
                "worker",
                env=env,
                stdout=sink,
                stderr=sink,
                start_new_session=True,
            )
        self.instances[instance_id] = LocalInstance(instance_id, job_id, attempt, process, log_path)
        log.info("worker_started", instance_id=instance_id, job_id=job_id, pid=process.pid)

    async def _retire_older(self, job_id: str, attempt: int) -> None:
        """Kill workers of earlier attempts of `job_id`: they would share its files."""
        for local in list(self.instances.values()):
            if local.job_id == job_id and local.attempt < attempt:
                log.info("older_attempt_killed", instance_id=local.instance_id, job_id=job_id)
                self.kill(local.instance_id)
                await local.process.wait()

    async def _reap(self, local: LocalInstance) -> None:
        self.instances.pop(local.instance_id, None)
        self._done.add(local.instance_id)
        self._imds.remove(local.instance_id)
        log.info(
            "worker_exited",
            instance_id=local.instance_id,
            job_id=local.job_id,
            returncode=local.process.returncode,
        )
        await self._ec2.terminate_instances(InstanceIds=[local.instance_id])

    def find(self, job_id: str) -> LocalInstance | None:
        """The newest live instance running `job_id`."""
        candidates = [i for i in self.instances.values() if i.job_id == job_id]
        return max(candidates, key=lambda i: i.attempt) if candidates else None

    def kill(self, instance_id: str) -> None:
        """SIGKILL the worker's whole process group, as a vanishing host would."""
        local = self.instances.get(instance_id)
        if local is None or local.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(local.process.pid, signal.SIGKILL)

    async def kill_all(self) -> None:
        for instance_id in list(self.instances):
            self.kill(instance_id)
        for local in list(self.instances.values()):
            await local.process.wait()
