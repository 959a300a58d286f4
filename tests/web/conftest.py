"""The master's HTTP app with the web face mounted, on 127.0.0.1 port 0, moto behind it."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp import web

from cbas_async.bus import Bus
from cbas_async.clock import SystemClock
from cbas_async.deployment import Session, open_session
from cbas_async.fleet.tracker import HeartbeatTracker
from cbas_async.httpserver import HttpServer
from cbas_async.master.health import Health
from cbas_async.master.http import build_app
from cbas_async.metrics import Metrics
from cbas_async.settings import Settings
from cbas_async.sns import SnsVerifier
from cbas_async.sns_certs import CertificateCache
from cbas_async.store import JobStore
from cbas_async.web import WebParts, mount
from cbas_async.web.auth import TokenStore
from cbas_async.web.keys import ApiLimits
from tests.integration.conftest import e2e  # noqa: F401 - the local cloud, for the browser test

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client

MAX_BODY = 64 * 1024
LIMITS = ApiLimits(
    upload_max_bytes=256 * 1024,
    stream_poll_s=0.05,
    upload_max_files=5,
    refused_tokens_per_minute=10_000,  # test_auth sends dozens of wrong tokens from one address
)


async def _no_certificates(url: str) -> bytes:
    raise AssertionError("no SNS certificate is fetched in these tests")


@dataclass
class Api:
    """A running app, a client session, a valid token, and the parts behind the app."""

    url: str
    http: aiohttp.ClientSession
    token: str
    cloud: Session
    tracker: HeartbeatTracker
    metrics: Metrics
    bus: Bus
    app: web.Application

    @property
    def store(self) -> JobStore:
        return self.cloud.store

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def call(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> tuple[int, Any]:
        """(status, decoded JSON body) of one authorised request."""
        headers = {**self.headers(token), **kwargs.pop("headers", {})}
        async with self.http.request(method, self.url + path, headers=headers, **kwargs) as r:
            return r.status, await r.json()


def web_app(cloud: Session, parts: WebParts, settings: Settings) -> web.Application:
    clock = SystemClock()
    verifier = SnsVerifier(
        certificates=CertificateCache(fetch=_no_certificates, clock=clock),
        region=settings.region,
        enabled=False,
        clock=clock,
    )
    app = build_app(
        health=Health(clock=clock),
        bus=parts.bus,
        verifier=verifier,
        session=cloud.clients.http,
        topics=frozenset({cloud.resources.events_topic_arn}),
        max_body_bytes=MAX_BODY,
        region=settings.region,
        verify=False,
    )
    mount(app, parts)
    return app


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async with serve_api(settings) as served:
        yield served


@asynccontextmanager
async def serve_api(
    settings: Settings, price_ec2: Mapping[str, EC2Client] | None = None
) -> AsyncIterator[Api]:
    """The deployment bootstrapped in `settings.region`, and the web face serving it."""
    from cbas_async.aws import open_clients
    from cbas_async.bootstrap import bootstrap

    async with open_clients(settings) as clients:
        await bootstrap(clients, settings)
    async with open_session(settings) as opened:
        metrics = Metrics(refresh_every_s=0.0)
        cloud = dataclasses.replace(opened, store=_observed(opened, metrics))
        parts = WebParts(
            cloud=cloud,
            clock=SystemClock(),
            bus=Bus(),
            tracker=HeartbeatTracker(),
            metrics=metrics,
            limits=LIMITS,
            price_ec2=price_ec2,
        )
        app = web_app(cloud, parts, settings)
        async with HttpServer(app=app, host="127.0.0.1", port=0) as server:
            token = await TokenStore(store=cloud.store, clock=SystemClock()).create(name="test")
            async with aiohttp.ClientSession() as http:
                yield Api(server.url, http, token, cloud, parts.tracker, metrics, parts.bus, app)


def _observed(session: Session, metrics: Metrics) -> JobStore:
    resources = session.resources
    return JobStore(
        dynamo=session.clients.dynamo,
        jobs_table=resources.jobs_table,
        events_table=resources.events_table,
        misc_table=resources.misc_table,
        tokens_table=resources.tokens_table,
        on_transition=metrics.transitioned,
    )
