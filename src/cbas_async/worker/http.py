"""The worker's HTTP endpoint for the master's commands over SNS: cancel, checkpoint, shutdown.

It subscribes to the master's topic with a filter policy on this instance's id, and every
POST goes: parse -> verify the signature -> our topic -> not a duplicate -> a `Command` for
this very job, attempt and instance -> queued. It unsubscribes on exit: on moto a dead
HTTP subscriber makes every Publish to the topic fail, and on AWS it is waste.
"""

from __future__ import annotations

import asyncio
import json
from types import TracebackType
from typing import TYPE_CHECKING

import aiohttp
import structlog
from aiohttp import web

from cbas_async.errors import InvalidMessage, TransientError
from cbas_async.httpserver import HttpServer
from cbas_async.messages import Command, decode
from cbas_async.sns import DuplicateFilter, SnsVerifier, confirm_subscription
from cbas_async.sns_envelope import SnsEnvelope
from cbas_async.sns_intake import Refused, SnsIntake

if TYPE_CHECKING:
    from types_aiobotocore_sns import SNSClient

log = structlog.get_logger(__name__)

PATH = "/sns"


class CommandEndpoint:
    """Receives SNS-delivered commands for one job attempt on one instance; async context
    manager (listening and subscribed inside it, unsubscribed and closed after)."""

    def __init__(
        self,
        *,
        sns: SNSClient,
        http: aiohttp.ClientSession,
        verifier: SnsVerifier,
        strict: bool,
        topic_arn: str,
        region: str,
        identity: tuple[str, str, int],
        commands: asyncio.Queue[Command],
        bind_host: str = "127.0.0.1",
        port: int = 0,
        advertise_host: str | None = None,
        max_body_bytes: int = 64 * 1024,
    ) -> None:
        self._sns = sns
        self._http = http
        self._strict = strict
        self._topic_arn = topic_arn
        self._region = region
        self._instance_id, self._job_id, self._attempt = identity
        self._commands = commands
        self._bind_host = bind_host
        self._port = port
        self._advertise_host = advertise_host or bind_host
        self._max_body_bytes = max_body_bytes
        self._intake = SnsIntake(
            verifier=verifier,
            topics=[topic_arn],
            max_bytes=max_body_bytes,
            duplicates=DuplicateFilter(capacity=1000),
        )
        self._server: HttpServer | None = None
        self._subscription_arn: str | None = None
        self.url = ""

    async def __aenter__(self) -> CommandEndpoint:
        app = web.Application(client_max_size=self._max_body_bytes)
        app.router.add_post(PATH, self.handle)
        server = HttpServer(app=app, host=self._bind_host, port=self._port)
        await server.__aenter__()
        try:
            self.url = f"http://{self._advertise_host}:{server.port}{PATH}"
            self._subscription_arn = await self._subscribe()
        except BaseException:
            await server.__aexit__(None, None, None)
            raise
        self._server = server
        log.info("command_endpoint_ready", url=self.url)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._unsubscribe()
        finally:
            if self._server is not None:
                await self._server.__aexit__(exc_type, exc, tb)
                self._server = None

    async def _subscribe(self) -> str:
        policy = json.dumps({"instance_id": [self._instance_id]})
        answer = await self._sns.subscribe(
            TopicArn=self._topic_arn,
            Protocol="http",
            Endpoint=self.url,
            Attributes={"FilterPolicy": policy},
            ReturnSubscriptionArn=True,
        )
        return answer["SubscriptionArn"]

    async def _unsubscribe(self) -> None:
        arn, self._subscription_arn = self._subscription_arn, None
        if arn is None:
            return
        try:
            await self._sns.unsubscribe(SubscriptionArn=arn)
        except Exception as exc:
            log.error("sns_unsubscribe_failed", subscription=arn, error=repr(exc))

    async def handle(self, request: web.Request) -> web.Response:
        """One POST from SNS; 4xx for anything malformed, forged or not ours to read."""
        accepted = await self._intake.accept(await request.read())
        if isinstance(accepted, Refused):
            return web.Response(status=accepted.status, text=accepted.problem)
        if isinstance(accepted, str):
            return web.Response(text="duplicate")
        try:
            return await self._dispatch(accepted)
        except BaseException:
            self._intake.forget(accepted)
            raise

    async def _dispatch(self, envelope: SnsEnvelope) -> web.Response:
        if envelope.type == "SubscriptionConfirmation":
            return await self._confirm(envelope)
        if envelope.type == "UnsubscribeConfirmation":
            return web.Response(text="ok")
        try:
            command = decode(Command, envelope.message)
        except InvalidMessage as exc:
            return _refuse(400, exc)
        if (command.instance_id, command.job_id, command.attempt) != (
            self._instance_id,
            self._job_id,
            self._attempt,
        ):
            log.info("command_not_ours", kind=command.kind, job=command.job_id)
            return web.Response(text="not for this worker")
        log.info("command_received", kind=command.kind, message_id=envelope.message_id)
        self._commands.put_nowait(command)
        return web.Response(text="accepted")

    async def _confirm(self, envelope: SnsEnvelope) -> web.Response:
        try:
            await confirm_subscription(
                self._http, envelope, region=self._region, check_url=self._strict
            )
        except InvalidMessage as exc:
            return _refuse(403, exc)
        except TransientError as exc:
            self._intake.forget(envelope)  # let SNS's retry through
            return _refuse(503, exc)
        log.info("sns_subscription_confirmed", topic=envelope.topic_arn)
        return web.Response(text="confirmed")


def _refuse(status: int, exc: Exception) -> web.Response:
    log.warning("sns_message_refused", status=status, problem=str(exc)[:300])
    return web.Response(status=status, text=str(exc)[:300])
