"""A worker boots on the local cloud as on EC2: from its user data's shell part, as a
systemd unit with a clean environment, with AWS credentials only from IMDS; the emulated
systemd restarts it when it is killed."""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

from cbas_async.local.hypervisor import LocalInstance
from cbas_async.states import JobState
from tests.integration.conftest import E2E, spec_file

# where IMDS is and how long botocore waits for it: no secret among them
_OURS = {
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_METADATA_SERVICE_TIMEOUT",
    "AWS_METADATA_SERVICE_NUM_ATTEMPTS",
}


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.decode().partition("=") for item in raw.split(b"\0") if item)
    return {key: value for key, _, value in pairs}


def _assert_clean(local: LocalInstance) -> None:
    environ = _environ(local.process.pid)
    assert {k for k in environ if k.startswith("AWS_")} == _OURS
    for secret in ("CBAS_API_TOKEN", "CBAS_ENDPOINT_URL", "CBAS_LOCAL_CONTROL_URL"):
        assert secret not in environ
    assert environ["HOME"] == str(local.root / "root")
    assert environ["AWS_EC2_METADATA_SERVICE_ENDPOINT"].endswith(f"/{local.instance_id}")


async def test_a_worker_boots_from_user_data_and_is_restarted(e2e: E2E, tmp_path: Path) -> None:
    await e2e.masters.start()
    job_id = await e2e.submit(spec_file(tmp_path, "slow", ["sleep", "30"]))

    async def running() -> bool:
        return (await e2e.session.store.get(job_id)).state is JobState.RUNNING

    await e2e.until(running, timeout_s=60, poll_s=0.1)
    local = e2e.cloud.hypervisor.find(job_id)
    assert local is not None
    _assert_clean(local)
    assert e2e.cloud.role is not None
    assert local.instance_id in e2e.cloud.role.issued_to  # its keys came from IMDS
    job_file = local.root / "etc/cbas/job.json"
    assert stat.S_IMODE(job_file.stat().st_mode) == 0o600
    assert f'"job_id":"{job_id}"' in job_file.read_text()

    killed = local.process.pid
    os.kill(killed, signal.SIGKILL)  # the worker alone, not the host

    async def restarted() -> bool:
        again = e2e.cloud.hypervisor.find(job_id)
        return again is local and local.process.pid != killed and _alive(local)

    await e2e.until(restarted, timeout_s=10, poll_s=0.05)
    _assert_clean(local)
    log = local.log_path.read_text()
    assert log.count("cbas-worker.service started") == 1  # booted once, restarted by systemd


def _alive(local: LocalInstance) -> bool:
    return local.process.returncode is None
