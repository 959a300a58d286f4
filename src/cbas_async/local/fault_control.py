"""The local cloud's fault routes, beside `/interrupt` on its control app: `POST
/fault/capacity` and `POST /fault/quota` (JSON bodies) start EC2 capacity and quota outages
(`local.ec2_faults`); `cbas fault` calls them. A zone names its region; `all` means every
zone of the home region. A bad request answers 400 naming the field."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cbas_async.local.ec2_faults import ALL_ZONES, Ec2Faults
from cbas_async.spot.history import region_of_zone

EC2_FAULTS = web.AppKey("ec2_faults", Ec2Faults)
REGION = web.AppKey("region", str)


class BadFault(ValueError):
    """A fault request the local cloud cannot carry out; the text says why."""


async def capacity_route(request: web.Request) -> web.Response:
    try:
        body = await _body(request)
        market = body.get("market")
        zone = _text(body, "zone")
        region = request.app[REGION] if zone == ALL_ZONES else region_of_zone(zone)
        outage = request.app[EC2_FAULTS].capacity(
            region=region,
            zone=zone,
            instance_type=_text(body, "instance_type"),
            market=None if market is None else str(market),
            seconds=_number(body, "seconds"),
        )
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(
        {
            "fault": "capacity",
            "region": region,
            "zone": outage.zone,
            "instance_type": outage.instance_type,
            "market": outage.market or "spot and on-demand",
            "seconds": body["seconds"],
        }
    )


async def quota_route(request: web.Request) -> web.Response:
    try:
        body = await _body(request)
        vcpus = _number(body, "vcpus")
        if vcpus != int(vcpus):
            raise BadFault(f"vcpus must be a whole number, not {vcpus}")
        outage = request.app[EC2_FAULTS].quota(vcpus=int(vcpus), seconds=_number(body, "seconds"))
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response({"fault": "quota", "vcpus": outage.vcpus, "seconds": body["seconds"]})


def add_fault_routes(app: web.Application, *, faults: Ec2Faults, region: str) -> None:
    app[EC2_FAULTS] = faults
    app[REGION] = region
    app.router.add_post("/fault/capacity", capacity_route)
    app.router.add_post("/fault/quota", quota_route)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise BadFault("the body is not JSON") from exc
    if not isinstance(body, dict):
        raise BadFault("the body must be a JSON object")
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise BadFault(f"{name} is required (a string)")
    return value


def _number(body: dict[str, Any], name: str) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadFault(f"{name} is required (a number)")
    return float(value)
