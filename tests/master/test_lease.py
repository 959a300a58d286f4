"""Master leases and adoption: a master adopts jobs only when their owner's lease expired."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from cbas_async.fleet.lease import MasterLease, live_regions, owner_alive
from cbas_async.jobs import parse_spec
from cbas_async.states import JobState
from cbas_async.store import JobStore
from tests.fakes import FakeClock


async def test_lease_is_exclusive_until_it_expires(store: JobStore) -> None:
    clock = FakeClock(datetime(2026, 11, 27, tzinfo=UTC))
    first = MasterLease(store=store, master_id="m-a", ttl_s=30, clock=clock)
    assert await first.renew_once()
    assert first.held
    impostor = MasterLease(store=store, master_id="m-a", ttl_s=30, clock=clock)
    assert await impostor.renew_once()  # same id counts as the same owner
    now_s = clock.now().timestamp()
    assert await owner_alive(store, "m-a", now_s)
    assert not await owner_alive(store, "m-b", now_s)
    await clock.advance(31)
    assert not first.held
    assert not await owner_alive(store, "m-a", clock.now().timestamp())
    await first.release()
    assert await store.misc_get("lease#m-a") is None


async def test_only_one_of_two_masters_adopts_an_orphan(store: JobStore) -> None:
    clock = FakeClock(datetime(2026, 11, 27, tzinfo=UTC))
    job = await store.create(
        parse_spec({"name": "x", "command": ["true"]}), now=clock.now(), actor="t"
    )
    await store.transition(
        job.job_id, {JobState.SUBMITTED}, JobState.PENDING, 0, now=clock.now(), actor="t"
    )
    assert await store.set_owner(job.job_id, owner="m-dead", expected_owner=None)
    claims = await asyncio.gather(
        *(store.set_owner(job.job_id, owner=f"m-{i}", expected_owner="m-dead") for i in range(10))
    )
    assert claims.count(True) == 1
    winner = (await store.get(job.job_id)).owner
    assert winner == f"m-{claims.index(True)}"


async def test_live_regions_are_those_with_an_unexpired_lease(store: JobStore) -> None:
    clock = FakeClock(datetime(2026, 11, 27, tzinfo=UTC))
    east = MasterLease(store=store, master_id="m-e", ttl_s=30, clock=clock, region="us-east-1")
    assert await east.renew_once()
    await clock.advance(20)
    west = MasterLease(store=store, master_id="m-w", ttl_s=30, clock=clock, region="us-west-2")
    assert await west.renew_once()
    assert await live_regions(store, clock.now().timestamp()) >= {"us-east-1", "us-west-2"}
    await clock.advance(15)  # east's lease has expired, west's has not
    live = await live_regions(store, clock.now().timestamp())
    assert "us-west-2" in live
    assert "us-east-1" not in live
    await west.release()
    assert "us-west-2" not in await live_regions(store, clock.now().timestamp())
