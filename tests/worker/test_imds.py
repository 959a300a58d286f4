"""The worker's IMDSv2 client against the local emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from cbas_async.errors import InvalidMessage, TransientError
from cbas_async.local.imds_server import ImdsEmulator
from cbas_async.worker.imds import ImdsClient, InstanceAction, parse_instance_action
from tests.worker.helpers import user_data_for


@pytest.fixture
async def emulator() -> AsyncIterator[ImdsEmulator]:
    async with ImdsEmulator() as started:
        yield started


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_identity_from_user_data_and_metadata(
    emulator: ImdsEmulator, http: aiohttp.ClientSession
) -> None:
    data = user_data_for("j-1", attempt=2)
    emulator.register("i-0abc", data.encode(), "us-east-1d")
    identity = await ImdsClient(http=http, endpoint=emulator.endpoint("i-0abc")).identity()
    assert (identity.instance_id, identity.zone, identity.user_data) == (
        "i-0abc",
        "us-east-1d",
        data,
    )


async def test_instance_action_none_then_notice(
    emulator: ImdsEmulator, http: aiohttp.ClientSession
) -> None:
    emulator.register("i-1", "{}", "us-east-1a")
    client = ImdsClient(http=http, endpoint=emulator.endpoint("i-1") + "/")
    assert await client.instance_action() is None
    at = datetime(2026, 11, 27, 19, 2, tzinfo=UTC)
    emulator.interrupt("i-1", at=at)
    assert await client.instance_action() == InstanceAction(action="terminate", time=at)


async def test_token_is_renewed_when_refused(
    emulator: ImdsEmulator, http: aiohttp.ClientSession
) -> None:
    emulator.register("i-1", "{}", "us-east-1a")
    client = ImdsClient(http=http, endpoint=emulator.endpoint("i-1"))
    assert await client.instance_id() == "i-1"
    emulator.remove("i-1")  # forgets the instance's tokens
    emulator.register("i-1", "{}", "us-east-1a")
    assert await client.instance_id() == "i-1"


async def test_malformed_user_data_is_invalid(
    emulator: ImdsEmulator, http: aiohttp.ClientSession
) -> None:
    emulator.register("i-1", "not json", "us-east-1a")
    with pytest.raises(InvalidMessage):
        await ImdsClient(http=http, endpoint=emulator.endpoint("i-1")).user_data()


async def test_unreachable_imds_is_transient(http: aiohttp.ClientSession) -> None:
    client = ImdsClient(http=http, endpoint="http://127.0.0.1:9", timeout_s=1)
    with pytest.raises(TransientError):
        await client.instance_id()


def test_parse_instance_action_rejects_garbage() -> None:
    with pytest.raises(InvalidMessage):
        parse_instance_action('{"action": "terminate"}')
