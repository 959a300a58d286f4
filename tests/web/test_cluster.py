"""Workers and spot prices through /api/v1, and /metrics."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from cbas_async.aws import open_clients, open_region_clients
from cbas_async.clock import SystemClock
from cbas_async.events import InterruptionWarned
from cbas_async.local.moto_server import LOCAL_KEY
from cbas_async.records import CheckpointPointer, JobPlacement
from cbas_async.settings import Settings
from cbas_async.states import JobState
from tests.web.conftest import Api, serve_api
from tests.web.helpers import advance, spec

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client

PLACEMENT = JobPlacement(
    region="us-east-1",
    zone="us-east-1a",
    instance_type="c5.large",
    max_price_usd_per_hour=0.05,
    checkpoint_interval_s=300.0,
    instance_id="i-0123",
)


WEST = PLACEMENT.model_copy(update={"region": "us-west-2", "zone": "us-west-2b"})


async def running_job(api: Api, placement: JobPlacement = PLACEMENT) -> str:
    status, body = await api.call("POST", "/api/v1/jobs", json=spec())
    assert status == 201
    await advance(api.store, body["job_id"], JobState.RUNNING, placement=placement)
    return str(body["job_id"])


async def test_workers_show_instances_and_last_ping(api: Api) -> None:
    job_id = await running_job(api)
    status, body = await api.call("GET", "/api/v1/workers")
    assert status == 200
    [worker] = body["workers"]
    assert (worker["job_id"], worker["instance_id"], worker["region"]) == (
        job_id,
        "i-0123",
        "us-east-1",
    )
    assert worker["last_ping_s_ago"] is None  # not heard from by this master yet
    api.tracker.seen(job_id, 1, SystemClock().monotonic())
    status, body = await api.call("GET", "/api/v1/workers")
    assert 0 <= body["workers"][0]["last_ping_s_ago"] < 60


async def test_prices_cover_the_types_in_use_with_their_max_prices(api: Api) -> None:
    await running_job(api)
    status, body = await api.call("GET", "/api/v1/spot/prices")
    assert status == 200
    assert body["instance_types"] == ["c5.large"]
    assert body["max_prices"][0]["max_price_usd_per_hour"] == 0.05
    assert {s["instance_type"] for s in body["series"]} == {"c5.large"}
    assert all(len(s["points"]) >= 1 for s in body["series"])
    for query, field in [("instance_type=C5;drop", "instance_type"), ("hours=0", "hours")]:
        status, body = await api.call("GET", f"/api/v1/spot/prices?{query}")
        assert (status, body["errors"][0]["field"]) == (400, field)


async def test_prices_cover_every_region_of_the_deployment(settings: Settings) -> None:
    two = settings.replace(regions=("us-east-1", "us-west-2"))
    async with open_region_clients(two) as regional:
        ec2 = {region: clients.ec2 for region, clients in regional.items()}
        async with serve_api(two, ec2) as api:
            await running_job(api, WEST)
            status, body = await api.call("GET", "/api/v1/spot/prices")
            assert status == 200
            assert body["regions"] == ["us-east-1", "us-west-2"]
            assert [s["region"] for s in body["series"]][:1] == ["us-east-1"]  # home first
            assert {s["region"] for s in body["series"]} == {"us-east-1", "us-west-2"}
            assert all(s["zone"].startswith(s["region"]) for s in body["series"])
            assert [(m["region"], m["zone"]) for m in body["max_prices"]] == [
                ("us-west-2", "us-west-2b")
            ]
            status, body = await api.call("GET", "/api/v1/spot/prices?region=us-east-1")
            assert status == 200
            assert {s["region"] for s in body["series"]} == {"us-east-1"}
            assert body["max_prices"] == []  # the cap in use is in us-west-2
            assert body["regions"] == ["us-east-1", "us-west-2"]  # still all, for the filter
            status, body = await api.call("GET", "/api/v1/spot/prices?region=eu-west-1")
            assert (status, body["errors"][0]["field"]) == (400, "region")
            assert "us-east-1, us-west-2" in body["error"]


async def test_one_region_failing_fails_the_answer_unless_filtered_out(
    settings: Settings,
) -> None:
    two = settings.replace(regions=("us-east-1", "us-west-2"))
    async with (
        open_clients(two) as home,
        unreachable_ec2("us-west-2") as west,
        serve_api(two, {"us-east-1": home.ec2, "us-west-2": west}) as api,
    ):
        status, body = await api.call("GET", "/api/v1/spot/prices")
        assert status == 503  # as when the one region of a deployment is unreachable
        assert "DescribeSpotPriceHistory failed" in body["error"]
        status, body = await api.call("GET", "/api/v1/spot/prices?region=us-east-1")
        assert status == 200
        assert {s["region"] for s in body["series"]} == {"us-east-1"}


@asynccontextmanager
async def unreachable_ec2(region: str) -> AsyncIterator[EC2Client]:
    """An EC2 client of a port nothing listens on, trying once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = AioConfig(retries={"total_max_attempts": 1}, connect_timeout=2)
    async with get_session().create_client(
        "ec2",
        region_name=region,
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id=LOCAL_KEY,
        aws_secret_access_key=LOCAL_KEY,
        config=config,
    ) as ec2:
        yield ec2


async def test_metrics_count_jobs_transitions_and_warnings(api: Api) -> None:
    job_id = await running_job(api)
    pointer = CheckpointPointer(
        attempt=1,
        seq=1,
        key="k",
        sha256="0" * 64,
        size_bytes=4096,
        method="app",
        taken_at="2026-11-27T00:00:00Z",
        extra={"duration_s": "2.500"},
    )
    await api.store.record_checkpoint(job_id, pointer)
    await api.bus.publish(
        InterruptionWarned(instance_id="i-0123", action="terminate", at=SystemClock().now())
    )
    async with api.http.get(api.url + "/metrics", headers=api.headers()) as response:
        assert response.status == 200
        text = await response.text()
    lines = set(text.splitlines())
    assert 'cbas_jobs{state="RUNNING"} 1.0' in lines
    assert 'cbas_job_transitions_total{to_state="RUNNING"} 1.0' in lines
    assert 'cbas_bus_queue_depth{subscriber="metrics"} 1.0' in lines  # no consumer running
    assert 'cbas_spend_usd{kind="spot"} 0.0' in lines
    assert "cbas_checkpoint_bytes 4096.0" in lines
    assert "cbas_checkpoint_duration_seconds 2.5" in lines
    await api.metrics.on_event(
        InterruptionWarned(instance_id="i-0123", action="terminate", at=SystemClock().now())
    )
    assert api.metrics.interruption_warnings._value.get() == 1.0
