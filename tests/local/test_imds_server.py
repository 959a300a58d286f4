"""The IMDS emulator: IMDSv2 tokens per instance, metadata paths, interruption notices."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from cbas_async.local.imds_server import TOKEN_HEADER, TTL_HEADER, ImdsEmulator
from tests.fakes import FakeClock


@pytest.fixture
async def emulator() -> AsyncIterator[ImdsEmulator]:
    async with ImdsEmulator() as started:
        started.register("i-aaa", '{"job": 1}', "us-east-1b")
        started.register("i-bbb", "other", "us-east-1c")
        yield started


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _token(http: aiohttp.ClientSession, base: str, ttl: str = "60") -> str:
    async with http.put(f"{base}/latest/api/token", headers={TTL_HEADER: ttl}) as response:
        assert response.status == 200
        return await response.text()


async def _get(http: aiohttp.ClientSession, base: str, path: str, token: str | None) -> int:
    headers = {TOKEN_HEADER: token} if token else {}
    async with http.get(f"{base}/latest/{path}", headers=headers) as response:
        return response.status


async def test_binds_loopback_on_an_ephemeral_port(emulator: ImdsEmulator) -> None:
    assert emulator.port > 0
    assert emulator.endpoint("i-aaa") == f"http://127.0.0.1:{emulator.port}/i-aaa"


async def test_serves_metadata_with_a_token(
    emulator: ImdsEmulator, http: aiohttp.ClientSession
) -> None:
    base = emulator.endpoint("i-aaa")
    token = await _token(http, base)
    expected = {
        "user-data": '{"job": 1}',
        "meta-data/instance-id": "i-aaa",
        "meta-data/placement/availability-zone": "us-east-1b",
    }
    for path, value in expected.items():
        async with http.get(f"{base}/latest/{path}", headers={TOKEN_HEADER: token}) as response:
            assert (response.status, await response.text()) == (200, value)


async def test_gets_without_a_valid_token_are_refused(
    emulator: ImdsEmulator, http: aiohttp.ClientSession
) -> None:
    base = emulator.endpoint("i-aaa")
    assert await _get(http, base, "user-data", None) == 401
    assert await _get(http, base, "user-data", "forged") == 401
    other_token = await _token(http, emulator.endpoint("i-bbb"))
    assert await _get(http, base, "user-data", other_token) == 401


async def test_token_put_needs_a_ttl_in_range(
    emulator: ImdsEmulator, http: aiohttp.ClientSession
) -> None:
    url = emulator.endpoint("i-aaa") + "/latest/api/token"
    for headers in ({}, {TTL_HEADER: "0"}, {TTL_HEADER: "21601"}, {TTL_HEADER: "x"}):
        async with http.put(url, headers=headers) as response:
            assert response.status == 400


async def test_tokens_expire_after_their_ttl(http: aiohttp.ClientSession) -> None:
    clock = FakeClock()
    async with ImdsEmulator(clock=clock) as emulator:
        emulator.register("i-aaa", "x", "us-east-1a")
        base = emulator.endpoint("i-aaa")
        token = await _token(http, base, ttl="10")
        assert await _get(http, base, "user-data", token) == 200
        await clock.advance(10)
        assert await _get(http, base, "user-data", token) == 401


async def test_instance_action_is_404_until_interrupted(
    emulator: ImdsEmulator, http: aiohttp.ClientSession
) -> None:
    base = emulator.endpoint("i-aaa")
    token = await _token(http, base)
    path = "meta-data/spot/instance-action"
    assert await _get(http, base, path, token) == 404
    emulator.interrupt("i-aaa", at=datetime(2026, 11, 27, 19, 2, 0, 500, tzinfo=UTC))
    async with http.get(f"{base}/latest/{path}", headers={TOKEN_HEADER: token}) as response:
        assert response.status == 200
        assert json.loads(await response.text()) == {
            "action": "terminate",
            "time": "2026-11-27T19:02:00Z",
        }
    assert await _get(http, emulator.endpoint("i-bbb"), path, await _token(http, base)) == 401


async def test_unknown_and_removed_instances_are_404(
    emulator: ImdsEmulator, http: aiohttp.ClientSession
) -> None:
    token = await _token(http, emulator.endpoint("i-aaa"))
    emulator.remove("i-aaa")
    assert await _get(http, emulator.endpoint("i-aaa"), "user-data", token) == 404
    async with http.put(emulator.endpoint("i-zzz") + "/latest/api/token") as response:
        assert response.status == 404
    assert emulator.instances == ["i-bbb"]
    with pytest.raises(KeyError):
        emulator.interrupt("i-aaa", at=datetime.now(UTC))
