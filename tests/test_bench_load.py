"""Smoke test of the load benchmarks (`make bench`) at tiny sizes: they run and report
well-formed, positive figures. No timing is asserted."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from benchmarks import bench_api, bench_bus, bench_load
from benchmarks.rates import Rate


def _positive(rate: Rate) -> None:
    assert rate.count > 0
    assert rate.wall_s > 0
    assert rate.cpu_s >= 0
    assert rate.per_s > 0


async def test_heartbeats_through_the_master_path() -> None:
    result = await bench_load.heartbeats(jobs=30, rounds=2, repeats=1)

    assert result.jobs == 30
    for rate in (result.path, result.decode_only, result.json_floor):
        assert rate.count == 60
        _positive(rate)
    assert result.bytes_per_job > 0
    assert "| master ping path, steady state |" in bench_load.markdown(result)


def test_ping_batches_are_sqs_shaped() -> None:
    batches = bench_load.ping_batches(25, range(2))

    assert [len(b) for b in batches] == [10, 10, 10, 10, 10]
    assert {"MessageId", "ReceiptHandle", "MD5OfBody", "Body"} <= set(batches[0][0])


async def test_bus_against_a_bare_queue() -> None:
    result = await bench_bus.bus_events(events=500, repeats=1)

    _positive(result.bus)
    _positive(result.queue)
    assert "(baseline)" in bench_bus.markdown(result)


async def test_api_routes_against_healthz(moto_url: str, tmp_path: Path) -> None:
    result = await bench_api.run(
        moto_url, tmp_path, jobs=5, concurrency=2, duration_s=0.1, repeats=1
    )

    assert result.jobs == 5
    for rate in (result.healthz, result.auth_only, result.listing, result.detail):
        _positive(rate)
    assert "`GET /healthz` (baseline)" in bench_api.markdown(result)


async def test_moto_process_serves_and_stops() -> None:
    async with (
        bench_api.moto_process() as url,
        aiohttp.ClientSession() as http,
        http.get(url + "/moto-api/") as response,
    ):
        assert response.status == 200
