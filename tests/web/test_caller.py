"""What the API tells and keeps from a caller, through the master's app on moto: `/me`, the
workers of other users' jobs, failed sign-ins limited per address (429 with Retry-After,
on an injected clock), and no token in any log line."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from structlog.testing import capture_logs

from cbas_async.clock import SystemClock
from cbas_async.httpserver import HttpServer
from cbas_async.states import JobState
from cbas_async.web import WebParts
from cbas_async.web.keys import ApiLimits
from tests.fakes import FakeClock
from tests.web.conftest import LIMITS, Api, web_app
from tests.web.test_roles import Users
from tests.web.test_roles import users as users  # the fixture, for pytest

LIVE = (JobState.PENDING,)


async def _launching(api: Api, job_id: str) -> None:
    job = await api.store.get(job_id)
    await api.store.transition(
        job_id, LIVE, JobState.LAUNCHING, job.version, now=SystemClock().now(), actor="test"
    )


async def _workers(api: Api, token: str) -> list[str]:
    status, body = await api.call("GET", "/api/v1/workers", token=token)
    assert status == 200, body
    return [w["job_id"] for w in body["workers"]]


async def test_a_user_sees_its_name_and_only_its_own_workers(api: Api, users: Users) -> None:
    await _launching(api, users.alice_job)
    await _launching(api, users.bob_job)
    assert await _workers(api, users.alice) == [users.alice_job]
    assert await _workers(api, users.bob) == [users.bob_job]
    assert sorted(await _workers(api, api.token)) == sorted([users.alice_job, users.bob_job])
    status, me = await api.call("GET", "/api/v1/me", token=users.alice)
    assert status == 200
    assert {k: me[k] for k in ("name", "owner", "role")} == {
        "name": "alice-laptop",
        "owner": "alice",
        "role": "user",
    }
    assert users.alice.split("_", 2)[2] not in str(me)
    status, me = await api.call("GET", "/api/v1/me")
    assert (status, me["name"], me["role"]) == (200, "test", "admin")
    async with api.http.get(api.url + "/api/v1/me") as response:
        assert response.status == 401


@pytest.fixture
async def limited(api: Api) -> AsyncIterator[tuple[str, FakeClock]]:
    """The master's app again, at its default limits, on a clock the test moves."""
    clock = FakeClock(datetime(2026, 12, 6, 12, 0, tzinfo=UTC))
    limits = dataclasses.replace(
        LIMITS, refused_tokens_per_minute=ApiLimits().refused_tokens_per_minute
    )
    parts = WebParts(
        cloud=api.cloud, clock=clock, bus=api.bus, tracker=api.tracker, metrics=api.metrics,
        limits=limits,
    )  # fmt: skip
    app = web_app(api.cloud, parts, api.cloud.settings)
    async with HttpServer(app=app, host="127.0.0.1", port=0) as server:
        yield server.url, clock


async def _status(api: Api, url: str, token: str) -> tuple[int, str | None]:
    headers = {"Authorization": f"Bearer {token}"}
    async with api.http.get(url + "/api/v1/me", headers=headers) as response:
        return response.status, response.headers.get("Retry-After")


async def test_failed_sign_ins_are_limited_per_address(
    api: Api, limited: tuple[str, FakeClock]
) -> None:
    url, clock = limited
    wrong = api.token[:-1] + ("A" if api.token[-1] != "A" else "B")
    for _ in range(10):
        assert await _status(api, url, wrong) == (401, None)
        await clock.advance(1)
    assert await _status(api, url, wrong) == (429, "50")  # the first failure leaves at 60 s
    assert await _status(api, url, api.token) == (429, "50")  # not even a right token
    await clock.advance(49)
    assert await _status(api, url, api.token) == (429, "1")
    await clock.advance(1)
    assert await _status(api, url, api.token) == (200, None)
    assert await _status(api, url, wrong) == (401, None)  # one more fits in the window
    assert await _status(api, url, wrong) == (429, "1")


async def test_no_token_reaches_a_log(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    wrong = api.token[:-1] + ("A" if api.token[-1] != "A" else "B")
    caplog.set_level(logging.DEBUG)
    with capture_logs() as logged:
        for token in (wrong, api.token, "cbas_000000000000_" + "Z" * 43, "garbage-token"):
            async with api.http.get(api.url + "/api/v1/jobs", headers=api.headers(token)):
                pass
    assert any(e["event"] == "api_token_refused" for e in logged)
    text = repr(logged) + caplog.text
    for token in (wrong, api.token, "Z" * 43, "garbage-token"):
        assert token not in text
        assert token.rpartition("_")[2] not in text  # nor the secret part alone
