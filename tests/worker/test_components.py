"""Heartbeats, the interruption watcher, log shipping and retries, on a fake clock where
timing matters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ResponseStreamingError

from cbas_async.errors import StaleWrite, TransientError
from cbas_async.local.imds_server import ImdsEmulator
from cbas_async.messages import Ping, decode
from cbas_async.worker.heartbeat import Heartbeat, Progress
from cbas_async.worker.imds import ImdsClient
from cbas_async.worker.logship import LogShipper
from cbas_async.worker.notice import NoticeWatcher
from cbas_async.worker.retry import is_transient, retrying
from tests.fakes import FakeClock
from tests.worker.helpers import LocalCloud, until_asleep


async def _drain(cloud: LocalCloud) -> list[Ping]:
    found = await cloud.clients.sqs.receive_message(
        QueueUrl=cloud.resources.ping_queue_url, MaxNumberOfMessages=10
    )
    return [decode(Ping, m["Body"]) for m in found.get("Messages", [])]


async def test_heartbeat_pings_every_interval(cloud: LocalCloud) -> None:
    clock = FakeClock(datetime(2026, 11, 27, tzinfo=UTC))
    progress = Progress()
    heartbeat = Heartbeat(
        sqs=cloud.clients.sqs,
        queue_url=cloud.resources.ping_queue_url,
        job_id="j-1",
        attempt=3,
        instance_id="i-1",
        progress=progress,
        clock=clock,
        interval_s=5,
    )
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(heartbeat.run(stop))
        await until_asleep(clock)
        progress.phase, progress.checkpoint_seq = "running", 4
        await clock.advance(5)
        await until_asleep(clock)
        stop.set()
    pings = sorted(await _drain(cloud), key=lambda p: p.seq)
    assert [(p.seq, p.phase, p.checkpoint_seq) for p in pings] == [
        (0, "starting", 0),
        (1, "running", 4),
    ]
    assert pings[1].sent_at == "2026-11-27T00:00:05.000000Z"
    assert {(p.job_id, p.attempt, p.instance_id) for p in pings} == {("j-1", 3, "i-1")}


async def test_a_failed_ping_is_not_fatal(cloud: LocalCloud) -> None:
    heartbeat = Heartbeat(
        sqs=cloud.clients.sqs,
        queue_url=cloud.resources.ping_queue_url + "-gone",
        job_id="j-1",
        attempt=1,
        instance_id="i-1",
        progress=Progress(),
        clock=FakeClock(),
        interval_s=5,
    )
    assert await heartbeat.beat_once() is False
    assert heartbeat.ping().seq == 1  # the next beat carries on


@pytest.fixture
async def imds() -> AsyncIterator[tuple[ImdsEmulator, ImdsClient]]:
    async with ImdsEmulator() as emulator, aiohttp.ClientSession() as http:
        emulator.register("i-1", "{}", "us-east-1a")
        yield emulator, ImdsClient(http=http, endpoint=emulator.endpoint("i-1"))


async def test_notice_watcher_polls_until_a_notice(
    imds: tuple[ImdsEmulator, ImdsClient],
) -> None:
    emulator, client = imds
    clock = FakeClock()
    watcher = NoticeWatcher(imds=client, clock=clock, poll_s=5)
    async with asyncio.TaskGroup() as tg:
        watching = tg.create_task(watcher.run(asyncio.Event()))
        for _ in range(3):
            await until_asleep(clock)
            await clock.advance(5)
        await until_asleep(clock)
        assert not watching.done()
        at = datetime(2026, 11, 27, 12, 2, tzinfo=UTC)
        emulator.interrupt("i-1", at=at)
        await clock.advance(5)
    notice = watching.result()
    assert notice is not None
    assert (notice.action, notice.time) == ("terminate", at)


async def test_notice_watcher_survives_imds_hiccups() -> None:
    async with aiohttp.ClientSession() as http:
        client = ImdsClient(http=http, endpoint="http://127.0.0.1:9", timeout_s=0.5)
        watcher = NoticeWatcher(imds=client, clock=FakeClock(), poll_s=5)
        assert await watcher.poll_once() is None
        stop = asyncio.Event()
        stop.set()
        assert await watcher.run(stop) is None


async def test_log_shipper_ships_in_numbered_chunks(cloud: LocalCloud, tmp_path: Path) -> None:
    out, err = tmp_path / "out", tmp_path / "err"
    out.write_bytes(b"a" * 10)
    shipper = LogShipper(
        sandbox=cloud.sandbox,
        job_id="j-1",
        attempt=2,
        files={"stdout": out, "stderr": err},
        clock=FakeClock(),
        max_chunk_bytes=4,
    )
    await shipper.resume_numbering()
    assert await shipper.ship_once() == 4
    await shipper.flush()
    with out.open("ab") as handle:
        handle.write(b"bc")
    await shipper.flush()
    chunks = await cloud.sandbox.log_chunks("j-1")
    assert [(c.attempt, c.stream, c.seq) for c in chunks] == [(2, "stdout", n) for n in range(4)]
    data = b"".join([await cloud.sandbox.read(c.key) for c in chunks])
    assert data == b"a" * 10 + b"bc"
    again = LogShipper(
        sandbox=cloud.sandbox,
        job_id="j-1",
        attempt=2,
        files={"stdout": out},
        clock=FakeClock(),
    )
    await again.resume_numbering()
    await again.flush()
    assert [c.seq for c in await cloud.sandbox.log_chunks("j-1")] == [0, 1, 2, 3, 4]


def _client_error(code: str, status: int) -> ClientError:
    body = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(body, "Op")  # type: ignore[arg-type]


def test_transient_failures_are_told_apart() -> None:
    assert is_transient(TransientError("x"))
    assert is_transient(EndpointConnectionError(endpoint_url="http://x"))
    assert is_transient(_client_error("SlowDown", 503))
    assert is_transient(_client_error("Whatever", 500))
    assert not is_transient(_client_error("NoSuchKey", 404))
    assert not is_transient(StaleWrite("j", "r"))
    assert not is_transient(ValueError())


async def test_retrying_backs_off_then_succeeds_or_gives_up() -> None:
    clock = FakeClock()
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TransientError("busy")
        return "ok"

    async with asyncio.TaskGroup() as tg:
        result = tg.create_task(retrying(flaky, clock=clock, what="t"))
        while not result.done():
            await clock.advance(10)
    assert (result.result(), len(calls)) == ("ok", 3)

    async def permanent() -> str:
        calls.append(1)
        raise StaleWrite("j", "no")

    with pytest.raises(StaleWrite):
        await retrying(permanent, clock=clock, what="t")
    assert len(calls) == 4


async def test_retrying_leaves_what_the_aws_client_retried_and_retries_a_broken_body() -> None:
    clock = FakeClock()
    calls: list[str] = []

    async def throttled() -> str:
        calls.append("s3")
        raise _client_error("SlowDown", 503)  # botocore already made the policy's tries

    with pytest.raises(ClientError):
        await retrying(throttled, clock=clock, what="t")
    assert calls == ["s3"]

    async def broken_body() -> str:
        calls.append("body")
        if calls.count("body") < 2:
            raise ResponseStreamingError(error="connection reset")
        return "ok"

    async with asyncio.TaskGroup() as tg:
        result = tg.create_task(retrying(broken_body, clock=clock, what="t"))
        while not result.done():
            await clock.advance(10)
    assert (result.result(), calls.count("body")) == ("ok", 2)
