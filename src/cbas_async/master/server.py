"""Subscribes the master's /sns endpoint to the spot-events topic while it is up (the app
itself is served by `httpserver.HttpServer`)."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from types_aiobotocore_sns import SNSClient

log = structlog.get_logger(__name__)


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
