"""The master's web face: the `/api/v1` REST API, its auth, `/metrics`, and the web UI.

`mount` adds all of it to the master's aiohttp app (built by `master/http.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from cbas_async.bus import Bus
from cbas_async.clock import Clock
from cbas_async.deployment import Session
from cbas_async.fleet.tracker import HeartbeatTracker
from cbas_async.metrics import CONTENT_TYPE, Metrics
from cbas_async.web import api, cluster, files, me, openapi, ui
from cbas_async.web.auth import TokenStore, auth_middleware
from cbas_async.web.errors import error_middleware
from cbas_async.web.keys import (
    BUS,
    CLOCK,
    CLOSING,
    CLOUD,
    LIMITS,
    PRICES,
    TOKENS,
    TRACKER,
    ApiLimits,
)
from cbas_async.web.prices import SpotPrices
from cbas_async.web.signin_limit import SignInLimiter

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client

METRICS = web.AppKey("metrics", Metrics)


@dataclass(frozen=True, slots=True, kw_only=True)
class WebParts:
    """What the web face needs from the master. `price_ec2` maps each region of the
    deployment (home first) to its EC2 client, for the prices; None: `cloud`'s region only."""

    cloud: Session
    clock: Clock
    bus: Bus
    tracker: HeartbeatTracker
    metrics: Metrics
    limits: ApiLimits = field(default_factory=ApiLimits)
    price_ec2: Mapping[str, EC2Client] | None = None

    def ec2_by_region(self) -> dict[str, EC2Client]:
        if self.price_ec2 is None:
            return {self.cloud.settings.region: self.cloud.clients.ec2}
        return dict(self.price_ec2)


def parts_for_master(
    cloud: Session,
    *,
    clock: Clock,
    bus: Bus,
    tracker: HeartbeatTracker,
    metrics: Metrics,
    price_ec2: Mapping[str, EC2Client] | None = None,
) -> WebParts:
    return WebParts(
        cloud=cloud, clock=clock, bus=bus, tracker=tracker, metrics=metrics, price_ec2=price_ec2
    )


async def metrics_endpoint(request: web.Request) -> web.Response:
    metrics, cloud = request.app[METRICS], request.app[CLOUD]
    await metrics.refresh(
        store=cloud.store,
        bus=request.app[BUS],
        tracker=request.app[TRACKER],
        clock=request.app[CLOCK],
    )
    return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})


async def migrate_tokens(app: web.Application) -> None:
    await app[TOKENS].migrate()  # tokens older versions kept in `misc`


async def closing(app: web.Application) -> None:
    app[CLOSING].set()  # live streams end, so shutdown does not wait for them


def mount(app: web.Application, parts: WebParts) -> None:
    """Add the API, auth, `/metrics` and the UI to `app` (before it starts)."""
    tokens = TokenStore(store=parts.cloud.store, clock=parts.clock)
    app[CLOUD] = parts.cloud
    app[CLOCK] = parts.clock
    app[TOKENS] = tokens
    app[TRACKER] = parts.tracker
    app[LIMITS] = parts.limits
    app[CLOSING] = asyncio.Event()
    app[METRICS] = parts.metrics
    app[BUS] = parts.bus
    app[PRICES] = SpotPrices(ec2=parts.ec2_by_region(), clock=parts.clock)
    metrics_public = parts.cloud.settings.metrics_public
    limiter = SignInLimiter(clock=parts.clock, max_failures=parts.limits.refused_tokens_per_minute)
    app.middlewares.extend(
        [
            error_middleware,
            auth_middleware(tokens, metrics_public=metrics_public, limiter=limiter),
        ]
    )
    app.on_startup.append(migrate_tokens)
    app.on_shutdown.append(closing)
    parts.bus.subscribe("metrics", parts.metrics.on_event, kinds=Metrics.kinds)
    app.router.add_get("/metrics", metrics_endpoint)
    for module in (api, files, cluster, me, openapi, ui):
        module.add_routes(app)
