"""The local cloud's fault routes: good requests start outages, bad ones answer 400 naming
the field and start none."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from cbas_async.local.ec2_faults import Ec2Faults
from cbas_async.local.fault_control import add_fault_routes

Client = TestClient[web.Request, web.Application]


class _View:
    def zones(self, region: str) -> list[str]:
        return ["us-east-1a", "us-east-1b"]

    def vcpus(self, instance_type: str) -> int | None:
        return 2 if instance_type == "c5.large" else None

    def live_vcpus(self, region: str, market: str) -> int:
        return 0

    def subnet_zone(self, region: str, subnet_id: str) -> str | None:
        return None


@pytest.fixture
def faults() -> Ec2Faults:
    return Ec2Faults(view=_View())


@pytest.fixture
async def client(faults: Ec2Faults) -> AsyncIterator[Client]:
    app = web.Application()
    add_fault_routes(app, faults=faults, region="us-east-1")
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as opened:
        yield opened


async def test_good_requests_start_outages(client: Client, faults: Ec2Faults) -> None:
    body = {"zone": "all", "instance_type": "c5.large", "market": "spot", "seconds": 30}
    response = await client.post("/fault/capacity", json=body)
    assert response.status == 200
    assert (await response.json())["zone"] == "all"
    response = await client.post("/fault/quota", json={"vcpus": 4, "seconds": 30})
    assert (response.status, (await response.json())["vcpus"]) == (200, 4)
    capacity, quotas = faults.active()
    assert [(o.zone, o.instance_type, o.market) for o in capacity] == [("all", "c5.large", "spot")]
    assert [q.vcpus for q in quotas] == [4]


CAPACITY = {"zone": "us-east-1a", "instance_type": "c5.large", "seconds": 30}


@pytest.mark.parametrize(
    ("route", "body", "named"),
    [
        ("capacity", {**CAPACITY, "zone": "us-west-2a"}, "zone"),
        ("capacity", {**CAPACITY, "instance_type": "c5.huge"}, "instance type"),
        ("capacity", {**CAPACITY, "market": "reserved"}, "market"),
        ("capacity", {**CAPACITY, "seconds": "soon"}, "seconds"),
        ("capacity", {"instance_type": "c5.large", "seconds": 30}, "zone"),
        ("quota", {"vcpus": 1.5, "seconds": 30}, "vcpus"),
        ("quota", {"vcpus": -1, "seconds": 30}, "vcpus"),
        ("quota", {"vcpus": 4, "seconds": 0}, "seconds"),
        ("quota", [4], "object"),
    ],
)
async def test_bad_requests_answer_400(
    client: Client, faults: Ec2Faults, route: str, body: Any, named: str
) -> None:
    response = await client.post(f"/fault/{route}", json=body)
    assert response.status == 400
    assert named in (await response.json())["error"]
    assert faults.active() == ([], [])


async def test_a_body_that_is_not_json_answers_400(client: Client) -> None:
    response = await client.post("/fault/quota", data=b"vcpus=4")
    assert (response.status, await response.json()) == (400, {"error": "the body is not JSON"})
