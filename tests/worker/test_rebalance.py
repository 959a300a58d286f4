"""Rebalance recommendations: the worker's watcher reports each recommendation IMDS serves
once (so the run phase checkpoints once per recommendation) and survives IMDS hiccups.

The local IMDS emulator does not serve `events/recommendations/rebalance` yet, so this test
serves the two IMDSv2 paths the client uses from a tiny aiohttp app on port 0."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from cbas_async.errors import InvalidMessage
from cbas_async.worker.imds import ImdsClient, parse_rebalance
from cbas_async.worker.notice import RebalanceWatcher
from tests.fakes import FakeClock
from tests.worker.helpers import until_asleep

PATH = "/latest/meta-data/events/recommendations/rebalance"


class Imds:
    """IMDSv2 as far as the rebalance path goes: a token, then 404 or AWS's JSON."""

    def __init__(self) -> None:
        self.body: str | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_put("/latest/api/token", self._token)
        app.router.add_get(PATH, self._rebalance)
        return app

    async def _token(self, request: web.Request) -> web.Response:
        return web.Response(text="token")

    async def _rebalance(self, request: web.Request) -> web.Response:
        if request.headers.get("X-aws-ec2-metadata-token") != "token":
            return web.Response(status=401)
        return web.Response(status=404) if self.body is None else web.Response(text=self.body)


@pytest.fixture
async def served() -> AsyncIterator[tuple[Imds, ImdsClient]]:
    imds = Imds()
    server = TestServer(imds.app(), host="127.0.0.1", port=0)
    async with server, aiohttp.ClientSession() as http:
        yield imds, ImdsClient(http=http, endpoint=str(server.make_url("")))


async def test_each_recommendation_is_reported_once(served: tuple[Imds, ImdsClient]) -> None:
    imds, client = served
    clock = FakeClock()
    watcher = RebalanceWatcher(imds=client, clock=clock, poll_s=5)
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        first = tg.create_task(watcher.next(stop))
        await until_asleep(clock)
        imds.body = '{"noticeTime": "2026-12-06T08:22:00Z"}'
        await clock.advance(5)
    assert first.result() == datetime(2026, 12, 6, 8, 22, tzinfo=UTC)
    assert await watcher.poll_once() is None  # still served: the same recommendation
    imds.body = '{"noticeTime": "2026-12-06T09:00:00Z"}'
    assert await watcher.poll_once() == datetime(2026, 12, 6, 9, tzinfo=UTC)
    imds.body = "not json"
    assert await watcher.poll_once() is None  # logged, polled again
    stop.set()
    assert await watcher.next(stop) is None


def test_malformed_recommendations_are_invalid() -> None:
    for text in ("{}", "[]", '{"noticeTime": "soon"}'):
        with pytest.raises(InvalidMessage):
            parse_rebalance(text)
