"""The job boundary on the local cloud, for real: run as root (as CI does), a hostile job
runs as `cbas-job` and finds no credentials (IMDS emulator, its environment, any
/proc/*/environ, the worker's files), cannot use any on another job's item or input, and
changes nothing outside its sandbox."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import shutil
from pathlib import Path

import pytest

from cbas_async.clock import SystemClock
from cbas_async.specfile import load_spec_file
from cbas_async.states import JobState
from tests.integration.conftest import E2E, spec_file

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(120),
    pytest.mark.skipif(
        os.geteuid() != 0, reason="uids cannot be separated: the tests do not run as root"
    ),
]

HOSTILE = Path(__file__).with_name("hostile_job.py")


async def test_a_hostile_job_finds_nothing_and_changes_nothing(e2e: E2E, tmp_path: Path) -> None:
    session, home = e2e.session, e2e.cloud.settings.home
    other_id, other_key = await _other_job(e2e, tmp_path)
    other_before = await session.store.get(other_id)
    shutil.copy(HOSTILE, tmp_path / "hostile_job.py")
    env = {
        "MOTO_URL": str(e2e.cloud.settings.endpoint_url),
        "JOBS_TABLE": e2e.cloud.resources.jobs_table,
        "BUCKET": e2e.cloud.resources.bucket,
        "OTHER_JOB": other_id,
        "OTHER_INPUT": other_key,
    }
    spec = spec_file(
        tmp_path,
        "hostile",
        ["python3", "hostile_job.py"],
        input_files=["hostile_job.py"],
        output_files=["found.json"],
        env=env,
    )
    before = await asyncio.to_thread(_tree, home)
    await e2e.masters.start()
    job_id = await e2e.submit(spec)
    await _hand_over_the_imds_endpoint(e2e, job_id)
    done = await e2e.wait_all([job_id], timeout_s=60)
    assert done[job_id].state is JobState.SUCCEEDED, done[job_id].reason
    report = json.loads(
        await session.sandbox.read(session.sandbox.key(job_id, "output", "found.json"))
    )
    assert report["found"] == {k: [] for k in report["found"]}
    tried = report["tried"]
    assert ["user-data", 403] in tried["imds"]
    assert ["meta-data/iam/security-credentials/", 403] in tried["imds"]
    assert tried["proc"] > 0
    assert tried["files"] > 0
    assert await session.store.get(other_id) == other_before
    item = await session.clients.dynamo.get_item(
        e2e.cloud.resources.jobs_table, {"job_id": other_id}
    )
    assert "hacked" not in item
    assert await session.sandbox.read(other_key) == b"another job's input\n"
    after = await asyncio.to_thread(_tree, home)
    # its sandbox, and the files its instance's boot wrote (user data, unit): none the job's
    booted = {f"instances/{i}/" for i in await _instances_of(e2e, job_id)}
    theirs = {k: v for k, v in after.items() if k.startswith(tuple(booted))}
    assert theirs, "the instance's boot wrote its files"
    job_uid = pwd.getpwnam("cbas-job").pw_uid
    assert not [k for k in theirs if (home / k).lstat().st_uid == job_uid]
    mine = (f"jobs/{job_id}/", *booted)
    assert {k: v for k, v in after.items() if not k.startswith(mine)} == before


async def _other_job(e2e: E2E, tmp_path: Path) -> tuple[str, str]:
    """A job stored with an input but never placed (it stays SUBMITTED)."""
    (tmp_path / "theirs.txt").write_text("another job's input\n")
    loaded = load_spec_file(spec_file(tmp_path, "theirs", ["true"], input_files=["theirs.txt"]))
    record = await e2e.session.store.create(loaded.spec, now=SystemClock().now(), actor="test")
    await e2e.session.sandbox.upload_inputs(record.job_id, tmp_path, ["theirs.txt"])
    return record.job_id, e2e.session.sandbox.key(record.job_id, "input", "theirs.txt")


async def _hand_over_the_imds_endpoint(e2e: E2E, job_id: str) -> None:
    """The job is assumed to know its instance's IMDS endpoint (the attacker knows
    everything but the secrets): written into its sandbox once it runs."""

    async def running() -> bool:
        job = await e2e.session.store.get(job_id)
        return job.state is JobState.RUNNING and e2e.cloud.hypervisor.find(job_id) is not None

    await e2e.until(running, timeout_s=60)
    instance = e2e.cloud.hypervisor.find(job_id)
    assert instance is not None
    assert e2e.cloud.imds is not None
    work = e2e.cloud.settings.home / "jobs" / job_id / "work"
    endpoint = e2e.cloud.imds.endpoint(instance.instance_id)
    await asyncio.to_thread((work / "imds-endpoint").write_text, endpoint)


async def _instances_of(e2e: E2E, job_id: str) -> list[str]:
    found = await e2e.session.clients.ec2.describe_instances(
        Filters=[{"Name": "tag:cbas:job_id", "Values": [job_id]}]
    )
    return [i["InstanceId"] for r in found["Reservations"] for i in r.get("Instances", [])]


def _tree(home: Path) -> dict[str, tuple[int, int]]:
    """Every file under `home` but logs (they grow), with its size and modification time."""
    found = {}
    for folder, _, names in os.walk(home):
        for name in names:
            path = Path(folder) / name
            if not name.endswith(".log"):
                st = path.lstat()
                found[str(path.relative_to(home))] = (st.st_size, st.st_mtime_ns)
    return found
