"""Heartbeats on one master with no AWS in the loop: pings per second through the master's
own ping path, CPU per ping, and memory per tracked job.

The ping path is `PingPoller.poll_once` fed pre-built batches of 10 SQS-shaped messages:
copy, decode + validate (pydantic), publish `WorkerPinged` on a bus wired as `open_master`
wires it (metrics, heartbeats, interruptions), and the heartbeat handler updating the
tracker. What SQS itself costs is left out: receive and delete answer from memory.

The first ping of an attempt makes the handler read the job from DynamoDB once (LAUNCHING
becomes RUNNING there). That warm-up is served from memory and not timed: the timed rounds
are the steady state, jobs already RUNNING and confirmed, and they check the store is not
read at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from benchmarks.bench_bus import with_bus_running
from benchmarks.rates import Rate, best, table, timed
from cbas_async import logs
from cbas_async.bus import Bus
from cbas_async.clock import SystemClock, utc_iso
from cbas_async.fleet.launch_config import ARCHITECTURES, LaunchConfig, WorkerImage
from cbas_async.fleet.launcher import Launcher
from cbas_async.fleet.tracker import HeartbeatTracker
from cbas_async.jobs import JobSpec
from cbas_async.master.health import Health
from cbas_async.master.ping_poller import PingPoller
from cbas_async.master.wiring import make_event_handlers, make_mover, subscribe_handlers
from cbas_async.messages import Ping, decode
from cbas_async.metrics import Metrics
from cbas_async.records import JobRecord
from cbas_async.states import JobState
from cbas_async.store import JobStore

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client
    from types_aiobotocore_sqs import SQSClient

BATCH = 10  # SQS's most per receive, and what the poller asks for
Message = dict[str, Any]


def job_id(n: int) -> str:
    return f"j-20260101T000000-{n:08x}"


def ping_batches(jobs: int, rounds: range) -> list[list[Message]]:
    """One ping per job per round, as SQS hands them out: batches of 10 messages."""
    sent_at = utc_iso(datetime.now(UTC))
    messages = []
    for seq in rounds:
        for n in range(jobs):
            ping = Ping(
                job_id=job_id(n), attempt=1, instance_id=f"i-{n:017x}", seq=seq, sent_at=sent_at
            )
            messages.append(_sqs_message(ping.encode(), f"{seq}-{n}"))
    return [messages[i : i + BATCH] for i in range(0, len(messages), BATCH)]


def _sqs_message(body: str, key: str) -> Message:
    digest = hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()
    return {
        "MessageId": hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest(),
        "ReceiptHandle": hashlib.sha512(key.encode()).hexdigest() * 3,  # SQS's are long too
        "MD5OfBody": digest,
        "Body": body,
    }


class _BatchFeed:
    """Answers the poller's receive and delete from memory, so SQS is not what is timed."""

    def __init__(self) -> None:
        self.batches: Iterator[list[Message]] = iter(())

    async def receive_message(self, **_: Any) -> dict[str, Any]:
        return {"Messages": next(self.batches)}

    async def delete_message_batch(self, **_: Any) -> dict[str, Any]:
        return {"Successful": [], "Failed": []}


SPEC = JobSpec(name="bench", command=["true"])


class _RunningJobs(JobStore):
    """Answers the heartbeat handler's one read per attempt: every job RUNNING at attempt 1.
    Counts the reads, so a timed round can show it read nothing."""

    def __init__(self) -> None:  # no DynamoDB client: nothing but `get` is ever called
        self.reads = 0
        self._at = datetime.now(UTC)

    async def get(self, job_id: str) -> JobRecord:
        self.reads += 1
        return JobRecord(
            job_id=job_id,
            state=JobState.RUNNING,
            version=3,
            attempt=1,
            spec=SPEC,
            created_at=self._at,
            updated_at=self._at,
        )


@dataclass
class _Master:
    """The parts of one master that a ping goes through."""

    feed: _BatchFeed
    store: _RunningJobs
    tracker: HeartbeatTracker
    bus: Bus
    poller: PingPoller


def _master() -> _Master:
    clock, store, tracker, bus = SystemClock(), _RunningJobs(), HeartbeatTracker(), Bus()
    feed = _BatchFeed()
    # the master's subscribers, in its order (web.mount, then master.wiring)
    bus.subscribe("metrics", Metrics().on_event, kinds=Metrics.kinds)
    never_called = cast("EC2Client", object())  # pings are not the interruption handler's event
    image = WorkerImage(image_id="ami-bench", root_device_name="/dev/xvda")
    config = LaunchConfig(
        images=dict.fromkeys(ARCHITECTURES, image),
        instance_profile="bench-worker",
        security_group_id="sg-bench",
    )
    launcher = Launcher(ec2=never_called, config=config, deployment="bench")
    handlers = make_event_handlers(
        store=store,
        mover=make_mover(store, clock, "bench"),
        launcher=launcher,
        tracker=tracker,
        clock=clock,
        wake=asyncio.Event(),
    )
    subscribe_handlers(bus, handlers)
    poller = PingPoller(
        sqs=cast("SQSClient", feed),
        queue_url="bench",
        bus=bus,
        clock=clock,
        health=Health(clock=clock),
    )
    return _Master(feed, store, tracker, bus, poller)


async def _feed(master: _Master, batches: list[list[Message]]) -> None:
    """Poll every batch through the master, then wait until every handler is done."""
    master.feed.batches = iter(batches)
    for _ in batches:
        await master.poller.poll_once()
    await master.bus.drain()


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatResult:
    jobs: int
    runs: int
    path: Rate
    decode_only: Rate
    json_floor: Rate
    bytes_per_job: float


async def heartbeats(jobs: int = 10_000, rounds: int = 3, repeats: int = 3) -> HeartbeatResult:
    """Steady-state heartbeats through the master, and in the same run the same batches
    only decoded (pydantic) and only json-parsed (the floor)."""
    warm_up, steady = ping_batches(jobs, range(1)), ping_batches(jobs, range(1, 1 + rounds))
    count = jobs * rounds
    master = _master()
    paths, decodes, floors = [], [], []

    async def work() -> None:
        await _feed(master, warm_up)
        for _ in range(repeats):
            reads = master.store.reads
            paths.append(await timed(count, lambda: _feed(master, steady)))
            if master.store.reads != reads:
                raise RuntimeError("the steady state read the store")
            decodes.append(await timed(count, lambda: _decode_all(steady)))
            floors.append(await timed(count, lambda: _json_all(steady)))

    await with_bus_running(master.bus, work)
    _check_tracked(master, jobs)
    return HeartbeatResult(
        jobs=jobs,
        runs=repeats,
        path=best(paths),
        decode_only=best(decodes),
        json_floor=best(floors),
        bytes_per_job=await memory_per_job(jobs),
    )


async def _decode_all(batches: list[list[Message]]) -> None:
    for batch in batches:
        for message in batch:
            decode(Ping, message["Body"])


async def _json_all(batches: list[list[Message]]) -> None:
    for batch in batches:
        for message in batch:
            json.loads(message["Body"])


async def memory_per_job(jobs: int) -> float:
    """Bytes a fresh master holds per tracked job (tracemalloc, all live Python allocations)
    after every job pinged twice: tracker entries, the handler's confirmed set, the ids."""
    batches = ping_batches(jobs, range(2))
    master = _master()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        await with_bus_running(master.bus, lambda: _feed(master, batches))
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    _check_tracked(master, jobs)
    return grown / jobs


def _check_tracked(master: _Master, jobs: int) -> None:
    if len(master.tracker) != jobs:
        raise RuntimeError(f"{len(master.tracker)} jobs tracked, not {jobs}")


def markdown(beats: HeartbeatResult) -> str:
    rows = [
        ("master ping path, steady state", beats.path),
        ("decode + validate only (pydantic)", beats.decode_only),
        ("`json.loads` of the bodies only (baseline)", beats.json_floor),
    ]
    return (
        f"{beats.jobs:,} tracked jobs, batches of {BATCH}, best of {beats.runs} runs; CPU is "
        "`time.process_time` per heartbeat.\n\n"
        + table(rows, beats.json_floor, "heartbeat")
        + f"\n\nMemory per tracked job: {beats.bytes_per_job:,.0f} bytes (tracemalloc: "
        f"Python allocations still live after all {beats.jobs:,} jobs pinged twice, "
        "divided by the jobs; RSS is not used).\n"
    )


async def _main() -> None:
    logs.configure(level=40)
    print(markdown(await heartbeats()))


if __name__ == "__main__":
    asyncio.run(_main())
