"""End to end with a replayed price trace: the broker places the job (zone and max price
recorded), and once it succeeds, `cbas status --json` shows its spot cost and what
on-demand would have cost."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cbas_async.deployment import open_session
from cbas_async.local.cloud import open_local_cloud
from cbas_async.states import JobState
from tests.integration.conftest import E2E, Masters, e2e_settings, spec_file

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

TRACE = Path(__file__).resolve().parents[3] / "shared/data/spot/spot_us-east-1_2021_post-2017.csv"


@pytest.fixture
async def traced(tmp_path: Path) -> AsyncIterator[E2E]:
    if not TRACE.is_file():
        pytest.skip(f"price trace not found at {TRACE}")
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        os.environ.pop(name)
    settings = e2e_settings(tmp_path).replace(price_trace=TRACE)
    stopping = asyncio.Event()
    async with open_local_cloud(settings) as cloud:
        masters = Masters(cloud.env, tmp_path)
        tasks = [
            asyncio.create_task(p.run(stopping)) for p in (cloud.hypervisor, cloud.interrupter)
        ]
        try:
            async with open_session(cloud.settings) as session:
                yield E2E(cloud, session, masters)
        finally:
            await masters.stop_all()
            stopping.set()
            await asyncio.gather(*tasks)


async def status_json(e2e: E2E, job_id: str) -> dict[str, object]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cbas_async",
        "status",
        job_id,
        "--json",
        env=e2e.cloud.env,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    assert process.returncode == 0
    parsed: dict[str, object] = json.loads(out)
    return parsed


async def test_broker_places_and_the_job_is_costed(traced: E2E, tmp_path: Path) -> None:
    assert traced.cloud.env["CBAS_PRICE_TRACE"] == str(TRACE)
    assert "CBAS_TRACE_EPOCH" in traced.cloud.env
    await traced.masters.start()
    spec = spec_file(
        tmp_path,
        "priced",
        ["sh", "-c", "sleep 1; echo ok"],
        resources={"instance_types": ["c5.large", "m5.large"]},
    )
    job_id = await traced.submit(spec)
    done = await traced.wait_all([job_id], timeout_s=90)
    assert done[job_id].state is JobState.SUCCEEDED

    async def costed() -> bool:
        return (await traced.session.store.get(job_id)).cost.spot_usd > 0

    await traced.until(costed, timeout_s=20)
    status = await status_json(traced, job_id)
    placement = status["placement"]
    assert isinstance(placement, dict)
    assert placement["market"] == "spot"
    assert str(placement["zone"]).startswith("us-east-1")
    assert placement["instance_type"] in {"c5.large", "m5.large"}
    assert 0 < float(placement["max_price_usd_per_hour"]) <= 0.096  # capped at on-demand
    cost = status["cost"]
    assert isinstance(cost, dict)
    assert 0 < cost["spot_usd"] < cost["ondemand_usd"]
    assert cost["work_redone_s"] == 0
    assert list(cost["attempts"]) == ["1"]
