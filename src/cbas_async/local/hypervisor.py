"""The local hypervisor: every instance the master launches through the (moto) EC2 API
boots as an EC2 instance does. Its user data's shell part runs in the instance's own
directory with a clean environment (`local/image.py`); the units it starts through
`systemctl` run with their `Environment=` and are restarted on failure (`local/systemd.py`).
When the worker's unit ends for good (a clean exit, or restarts used up) the instance
powers off: it is terminated. When EC2 terminates the instance, its processes are killed,
as on a real host.

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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from cbas_async.clock import Clock
from cbas_async.errors import InvalidMessage
from cbas_async.fleet.tags import tag_value
from cbas_async.fleet.userdata import shell_part
from cbas_async.local.ec2_instances import deployment_instances, state_of
from cbas_async.local.image import boot_environment, instance_path, prepare_root, write_shims
from cbas_async.local.imds_server import ImdsEmulator
from cbas_async.local.systemd import Unit, started_units
from cbas_async.loops import every

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client

log = structlog.get_logger(__name__)

_LIVE = ("pending", "running")
RESTART_S = 0.2  # the units' RestartSec, shortened: the local cloud runs many instances


@dataclass
class LocalInstance:
    """One local instance: its boot script's process, then its worker unit's."""

    instance_id: str
    job_id: str
    attempt: int
    process: asyncio.subprocess.Process
    log_path: Path
    region: str = ""  # where EC2 runs it
    vanished: bool = False  # killed as a vanishing host: nothing restarts, nothing powers off

    @property
    def root(self) -> Path:
        return self.log_path.parent

    def gone(self) -> bool:
        """Whether it vanished; a call, not a field, as `kill` sets it during an await."""
        return self.vanished


class Hypervisor:
    """Boots, watches and stops the local instances of this deployment in every region
    (`ec2`: each region's client): a job's attempts share one file layout whatever their
    region. `worker_env` is the image's `/etc/cbas/host.env`; each instance's IMDS endpoint
    is added to it. Nothing else of this process reaches an instance."""

    name = "hypervisor"

    def __init__(
        self,
        *,
        ec2: Mapping[str, EC2Client],
        imds: ImdsEmulator,
        deployment: str,
        worker_env: Mapping[str, str],
        root: Path,
        jobs_dir: Path,
        clock: Clock,
        poll_s: float = 0.3,
    ) -> None:
        self.ec2 = ec2
        self._imds = imds
        self._deployment = deployment
        self._host_env = dict(worker_env)
        self._root = root.absolute()
        self._shims = self._root / ".shims"
        self._jobs_dir = jobs_dir.absolute()
        self._clock = clock
        self._poll_s = poll_s
        self.instances: dict[str, LocalInstance] = {}
        self._done: set[str] = set()
        self._hosts: asyncio.TaskGroup | None = None
        self._closing = False

    async def run(self, stopping: asyncio.Event) -> None:
        write_shims(self._shims)
        async with asyncio.TaskGroup() as hosts:
            self._hosts = hosts
            try:
                await every(
                    self._poll_s,
                    self.poll_once,
                    stopping=stopping,
                    clock=self._clock,
                    log_event="hypervisor_poll_failed",
                )
            finally:
                self._closing = True
                await self.kill_all()

    async def poll_once(self) -> None:
        """Boot new instances; kill the processes of instances EC2 no longer runs."""
        states = await self._instance_states()
        for instance_id, (state, instance) in states.items():
            known = instance_id in self.instances or instance_id in self._done
            if state in _LIVE and not known:
                await self._start(instance)
        for instance_id, local in list(self.instances.items()):
            state = states.get(instance_id, ("gone", {}))[0]
            if state not in _LIVE and not local.vanished:
                log.info("instance_terminated_killing_worker", instance_id=instance_id)
                self.kill(instance_id)

    async def _instance_states(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """Instance id -> (state, description with `Region` added), in every region."""
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        for region, ec2 in self.ec2.items():
            for instance_id, instance in (
                await deployment_instances(ec2, self._deployment)
            ).items():
                found[instance_id] = (state_of(instance), {**instance, "Region": region})
        return found

    async def _start(self, instance: dict[str, Any]) -> None:
        """Lay out the instance's root and start its boot script (cloud-init's part)."""
        if self._hosts is None:
            raise RuntimeError("the hypervisor boots instances only while it runs")
        instance_id, region = instance["InstanceId"], instance["Region"]
        user_data = await self._user_data(instance_id, region)
        zone = instance.get("Placement", {}).get("AvailabilityZone", "local-1a")
        self._imds.register(
            instance_id, user_data, zone, region=region, instance_type=instance.get("InstanceType")
        )
        root = self._root / instance_id
        endpoint = self._imds.endpoint(instance_id)
        host_env = {
            **self._host_env,
            "CBAS_IMDS_ENDPOINT": endpoint,
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoint,
        }
        prepare_root(root, user_data=user_data, host_env=host_env)
        job_id = tag_value(instance, "cbas:job_id") or "?"
        attempt = int(tag_value(instance, "cbas:attempt") or 0)
        await self._retire_older(job_id, attempt)
        log_path = root / "worker.log"
        script = root / "var/lib/cloud/instance/scripts/part-001"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(_script(user_data))
        script.chmod(0o700)
        process = await self._spawn([str(script)], boot_environment(root, self._shims), log_path)
        local = LocalInstance(instance_id, job_id, attempt, process, log_path, region=region)
        self.instances[instance_id] = local
        self._hosts.create_task(self._host(local), name=f"host-{instance_id}")
        log.info("instance_booting", instance_id=instance_id, job_id=job_id, pid=process.pid)

    async def _user_data(self, instance_id: str, region: str) -> str:
        attribute = await self.ec2[region].describe_instance_attribute(
            InstanceId=instance_id, Attribute="userData"
        )
        encoded = attribute.get("UserData", {}).get("Value", "")
        return base64.b64decode(encoded).decode() if encoded else ""

    async def _spawn(
        self, command: list[str], env: dict[str, str], log_path: Path
    ) -> asyncio.subprocess.Process:
        with log_path.open("ab") as sink:
            return await asyncio.create_subprocess_exec(
                *command,
                env=env,
                cwd=log_path.parent,
                stdout=sink,
                stderr=sink,
                start_new_session=True,
            )

    async def _host(self, local: LocalInstance) -> None:
        """The instance's life: boot, its units, then poweroff (or vanishing)."""
        try:
            code = await local.process.wait()
            if local.vanished:
                return
            if code != 0:
                log.error("instance_boot_failed", instance_id=local.instance_id, returncode=code)
                return
            units = started_units(local.root)
            async with asyncio.TaskGroup() as running:
                for unit in units:
                    running.create_task(self._supervise(local, unit))
        except Exception:  # one broken instance must not take the others down
            log.exception("instance_failed", instance_id=local.instance_id)
        finally:
            try:
                await self._reap(local)
            except Exception:  # EC2 unreachable: the master's lost-worker check terminates it
                log.exception("instance_poweroff_failed", instance_id=local.instance_id)

    async def _supervise(self, local: LocalInstance, unit: Unit) -> None:
        """Run the unit until it ends for good: `Restart=on-failure` within its limit."""
        env = {
            "PATH": instance_path(self._shims),
            "HOME": str(local.root / "root"),
            "LANG": "C.UTF-8",
            **unit.environment,
        }
        restarts = 0
        while not local.gone():
            local.process = await self._spawn(unit.exec_start, env, local.log_path)
            if local.gone():  # killed while it was being started
                self.kill(local.instance_id)
            log.info(
                "unit_started",
                instance_id=local.instance_id,
                unit=unit.name,
                pid=local.process.pid,
                restarts=restarts,
            )
            code = await local.process.wait()
            if local.gone() or not unit.restarts_after(code, restarts):
                log.info(
                    "unit_ended", instance_id=local.instance_id, unit=unit.name, returncode=code
                )
                return
            restarts += 1
            log.warning(
                "unit_restarting", instance_id=local.instance_id, unit=unit.name, returncode=code
            )
            await self._clock.sleep(RESTART_S)

    async def _retire_older(self, job_id: str, attempt: int) -> None:
        """Kill workers of earlier attempts of `job_id`: they would share its files."""
        for local in list(self.instances.values()):
            if local.job_id == job_id and local.attempt < attempt:
                log.info("older_attempt_killed", instance_id=local.instance_id, job_id=job_id)
                self.kill(local.instance_id)
                await local.process.wait()

    async def _reap(self, local: LocalInstance) -> None:
        """Poweroff: the instance is terminated (`InstanceInitiatedShutdownBehavior`)."""
        self.instances.pop(local.instance_id, None)
        self._done.add(local.instance_id)
        self._imds.remove(local.instance_id)
        log.info(
            "worker_exited",
            instance_id=local.instance_id,
            job_id=local.job_id,
            returncode=local.process.returncode,
        )
        if not self._closing:
            await self.ec2[local.region].terminate_instances(InstanceIds=[local.instance_id])

    def find(self, job_id: str) -> LocalInstance | None:
        """The newest live instance running `job_id`."""
        candidates = [i for i in self.instances.values() if i.job_id == job_id]
        return max(candidates, key=lambda i: i.attempt) if candidates else None

    def kill(self, instance_id: str) -> None:
        """SIGKILL the instance's current process group, as a vanishing host would: no
        restart follows."""
        local = self.instances.get(instance_id)
        if local is None:
            return
        local.vanished = True
        if local.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(local.process.pid, signal.SIGKILL)

    async def kill_all(self) -> None:
        for instance_id in list(self.instances):
            self.kill(instance_id)
        for local in list(self.instances.values()):
            await local.process.wait()


def _script(user_data: str) -> str:
    """The shell part cloud-init would run; one that fails when there is none."""
    with contextlib.suppress(InvalidMessage):
        found = shell_part(user_data)
        if found:
            return found
    return "#!/bin/sh\necho 'user data: no usable text/x-shellscript part' >&2\nexit 1\n"
