"""Runs the master's aiohttp app inside the master's own loop, and subscribes its /sns
endpoint to the spot-events topic while it is up."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import TYPE_CHECKING

import structlog
from aiohttp import web

if TYPE_CHECKING:
    from types_aiobotocore_sns import SNSClient

log = structlog.get_logger(__name__)


class HttpServer:
    """Binds on enter (port 0 picks a free port), serves until `stopping`, cleans up on exit."""

    name = "http"

    def __init__(self, *, app: web.Application, host: str, port: int) -> None:
        self._runner = web.AppRunner(app, access_log=None)
        self._host = host
        self._port = port
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    async def __aenter__(self) -> HttpServer:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("http_listening", url=self.url)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._runner.cleanup()

    async def run(self, stopping: asyncio.Event) -> None:
        await stopping.wait()


class Subscription:
    """An SNS HTTP subscription held for as long as the context is open."""

    def __init__(self, *, sns: SNSClient, topic_arn: str, endpoint: str) -> None:
        self._sns = sns
        self._topic_arn = topic_arn
        self._endpoint = endpoint
        self.arn: str | None = None

    async def __aenter__(self) -> Subscription:
        protocol = "https" if self._endpoint.startswith("https:") else "http"
        response = await self._sns.subscribe(
            TopicArn=self._topic_arn,
            Protocol=protocol,
            Endpoint=self._endpoint,
            ReturnSubscriptionArn=True,
        )
        self.arn = response.get("SubscriptionArn")
        log.info("sns_subscribed", topic_arn=self._topic_arn, endpoint=self._endpoint)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        # a dead HTTP subscriber makes every publish to the topic fail on moto
        if self.arn and self.arn.startswith("arn:"):
            await self._sns.unsubscribe(SubscriptionArn=self.arn)
            log.info("sns_unsubscribed", endpoint=self._endpoint)
