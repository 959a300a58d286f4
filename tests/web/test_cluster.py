"""Workers and spot prices through /api/v1, and /metrics."""

from __future__ import annotations

from cbas_async.clock import SystemClock
from cbas_async.events import InterruptionWarned
from cbas_async.records import CheckpointPointer, JobPlacement
from cbas_async.states import JobState
from tests.web.conftest import Api
from tests.web.helpers import advance, spec

PLACEMENT = JobPlacement(
    region="us-east-1",
    zone="us-east-1a",
    instance_type="c5.large",
    max_price_usd_per_hour=0.05,
    checkpoint_interval_s=300.0,
    instance_id="i-0123",
)


async def running_job(api: Api) -> str:
    status, body = await api.call("POST", "/api/v1/jobs", json=spec())
    assert status == 201
    await advance(api.store, body["job_id"], JobState.RUNNING, placement=PLACEMENT)
    return str(body["job_id"])


async def test_workers_show_instances_and_last_ping(api: Api) -> None:
    job_id = await running_job(api)
    status, body = await api.call("GET", "/api/v1/workers")
    assert status == 200
    [worker] = body["workers"]
    assert (worker["job_id"], worker["instance_id"]) == (job_id, "i-0123")
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
