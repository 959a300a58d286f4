"""The CLI as a user runs it: subprocesses against the local cloud."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest

from cbas_async.states import JobState
from tests.integration.conftest import E2E, EXAMPLES, cbas, long_primes, spec_file

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


async def test_submit_status_wait_logs_outputs_round_trip(e2e: E2E, tmp_path: Path) -> None:
    await e2e.masters.start()
    code, out, _ = await cbas(e2e, "submit", str(EXAMPLES / "hello" / "spec.json"), "--json")
    assert code == 0
    job_id = json.loads(out)["job_id"]
    code, out, _ = await cbas(e2e, "wait", job_id, "--timeout", "120")
    assert code == 0, out
    code, out, _ = await cbas(e2e, "status", job_id, "--json")
    status = json.loads(out)
    assert code == 0
    assert status["state"] == "SUCCEEDED"
    assert status["attempt"] == 1
    assert status["placement"]["instance_type"] == "t3.micro"
    assert set(status["cost"]) >= {"spot_usd", "ondemand_usd"}
    code, out, _ = await cbas(e2e, "outputs", job_id, "--to", str(tmp_path / "out"))
    assert code == 0
    assert (tmp_path / "out" / "hello.txt").read_text() == "hello, world\n"
    code, out, _ = await cbas(e2e, "logs", job_id)
    assert code == 0
    assert "==> attempt 1 stdout <==" in out
    assert "said hello to world" in out
    code, out, _ = await cbas(e2e, "list", "--state", "succeeded")
    assert job_id in out
    events = await e2e.session.store.events(job_id)
    assert [e.attempt for e in events] == [1] * len(events)


async def test_cancel_stops_the_instance(e2e: E2E, tmp_path: Path) -> None:
    await e2e.masters.start()
    job_id = await e2e.submit(spec_file(tmp_path, "long", ["sleep", "300"]))

    async def running() -> bool:
        return (await e2e.session.store.get(job_id)).state is JobState.RUNNING

    await e2e.until(running, timeout_s=60)
    code, out, _ = await cbas(e2e, "cancel", job_id)
    assert (code, out.split()) == (0, [job_id, "CANCELLED"])

    async def instance_gone() -> bool:
        return e2e.cloud.hypervisor.find(job_id) is None

    await e2e.until(instance_gone, timeout_s=60)
    code, _, _ = await cbas(e2e, "wait", job_id, "--timeout", "5")
    assert code == 1  # CANCELLED


async def test_interrupt_then_resume(e2e: E2E, tmp_path: Path) -> None:
    await e2e.masters.start()
    job_id = await e2e.submit(long_primes(tmp_path))

    async def checkpointed() -> bool:
        job = await e2e.session.store.get(job_id)
        return job.state is JobState.RUNNING and job.checkpoint is not None

    await e2e.until(checkpointed, timeout_s=60)
    code, out, _ = await cbas(e2e, "interrupt", job_id)
    assert code == 0
    assert "notice sent" in out
    done = await e2e.wait_all([job_id], timeout_s=120)
    assert done[job_id].state is JobState.SUCCEEDED
    assert done[job_id].attempt == 2
    events = [e.to_state for e in await e2e.session.store.events(job_id)]
    assert JobState.INTERRUPTED in events


async def test_unknown_job_and_unreachable_cloud(e2e: E2E) -> None:
    code, _, err = await cbas(e2e, "status", "j-does-not-exist")
    assert code == 4
    assert "j-does-not-exist" in err
    e2e.cloud.env["CBAS_ENDPOINT_URL"] = "http://127.0.0.1:9"
    code, _, err = await cbas(e2e, "list")
    assert code == 3
    assert "127.0.0.1:9" in err


async def test_master_sigterm_exits_zero_and_releases_its_lease(e2e: E2E) -> None:
    master = await e2e.masters.start()

    async def leased() -> bool:
        return await e2e.session.store.misc_get("lease#m-e2e0") is not None

    await e2e.until(leased, timeout_s=60)
    master.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(master.wait(), timeout=30) == 0
    assert await e2e.session.store.misc_get("lease#m-e2e0") is None


async def test_fault_commands_start_ec2_outages(e2e: E2E) -> None:
    faults = e2e.cloud.faults.ec2
    assert faults is not None
    zone = f"{e2e.cloud.settings.region}a"
    pool = ("--zone", zone, "--type", "c5.large", "--market", "spot", "--seconds", "30")
    code, out, _ = await cbas(e2e, "fault", "capacity", *pool)
    assert code == 0, out
    assert f"no spot capacity for c5.large in zone {zone}" in out
    code, out, _ = await cbas(e2e, "fault", "quota", "--vcpus", "4", "--seconds", "30")
    assert code == 0, out
    code, _, err = await cbas(e2e, "fault", "capacity", *pool[:1], "mars-1a", *pool[2:])
    assert code == 2
    assert "zone 'mars-1a' is not in" in err
    capacity, quotas = faults.active()
    assert [(o.zone, o.market) for o in capacity] == [(zone, "spot")]
    assert [q.vcpus for q in quotas] == [4]
