"""Fuzzing the worker's IMDS client against a server that answers anything: every call
returns a value or raises a clear `TransientError` / `InvalidMessage`, nothing else."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cbas_async.errors import InvalidMessage, TransientError
from cbas_async.worker.imds import ImdsClient, parse_instance_action

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str


class FuzzServer:
    """An aiohttp server in a loop of its own thread; answers PUT and GET as told."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.token = Answer(200, b"tok", "text/plain")
        self.get = Answer(404, b"", "text/plain")
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> FuzzServer:
        self._thread.start()
        self.url = self.call(self._start)
        return self

    def __exit__(self, *_: object) -> None:
        self.call(self._stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()

    def call(self, make: Callable[[], Awaitable[Any]]) -> Any:
        async def wrapped() -> Any:
            return await make()

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout=30)

    async def _answer(self, request: web.Request) -> web.Response:
        answer = self.token if request.method == "PUT" else self.get
        response = web.Response(status=answer.status, body=answer.body)
        response.headers["Content-Type"] = answer.content_type
        return response

    async def _start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.http = aiohttp.ClientSession()
        return f"http://127.0.0.1:{port}/i-fuzz"

    async def _stop(self) -> None:
        await self.http.close()
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture(scope="module")
def server() -> Iterator[FuzzServer]:
    with FuzzServer() as started:
        yield started


statuses = st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 503])
content_types = st.sampled_from(
    ["text/plain", "text/plain; charset=utf-8", "application/json", "text/plain; charset=latin-1"]
)
payloads = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    st.sampled_from(
        [
            b'{"action": "terminate", "time": "2026-11-27T19:02:00Z"}',
            b'{"action": "stop", "time": "not a time"}',
            b'{"action": 1, "time": 2}',
            b"[" * 3000,
            b"\xff\xfe\x00",
            b'{"job_id": "j", "attempt": 1}',
        ]
    ),
)
answers = st.builds(Answer, statuses, payloads, content_types)
CALLS = ("instance_id", "availability_zone", "public_ipv4", "user_data", "instance_action")


@FUZZ
@given(token=answers, get=answers, call=st.sampled_from(CALLS))
def test_any_imds_answer_is_a_value_or_a_clear_error(
    server: FuzzServer, token: Answer, get: Answer, call: str
) -> None:
    server.token, server.get = token, get

    async def ask() -> object:
        client = ImdsClient(http=server.http, endpoint=server.url, timeout_s=5)
        try:
            return await getattr(client, call)()
        except (TransientError, InvalidMessage) as exc:
            return exc

    result = server.call(ask)
    if isinstance(result, TransientError):
        assert "IMDS" in str(result)


@FUZZ
@given(st.one_of(st.text(max_size=300), st.sampled_from(["[" * 5000, '{"action": {}}'])))
def test_parse_instance_action_is_a_notice_or_invalid(text: str) -> None:
    try:
        parse_instance_action(text)
    except InvalidMessage as exc:
        message = str(exc)
    else:
        return
    assert "instance-action" in message
