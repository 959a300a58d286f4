"""Cost per job: attempt spans from the history (pure), prices, and idempotent writes to the
job item (against moto)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources
from cbas_async.clock import utc_iso
from cbas_async.fleet.launcher import Launcher, LaunchRequest
from cbas_async.fleet.tracker import HeartbeatTracker
from cbas_async.handlers.costing import (
    AttemptSpan,
    JobCosting,
    attempt_spans,
    price_span,
    total_cost,
    work_redone_s,
)
from cbas_async.handlers.placement import checkpointed_work_s, first_allowed_type, job_placement
from cbas_async.handlers.sweeper import Sweeper
from cbas_async.jobs import parse_spec
from cbas_async.master.health import Health
from cbas_async.master.wiring import make_job_steps, make_mover, make_supervisor
from cbas_async.records import CheckpointPointer, JobEvent
from cbas_async.settings import Settings
from cbas_async.spot.eras import BID_ERA, CURRENT_ERA
from cbas_async.spot.history import PriceHistory, PricePoint
from cbas_async.spot.pricebook import PriceBook
from cbas_async.states import JobState
from cbas_async.store import JobStore
from tests.fakes import FakeClock

T0 = datetime(2026, 11, 27, 12, tzinfo=UTC)
S = JobState
PLACEMENT = LaunchRequest(
    region="us-east-1",
    zone="us-east-1a",
    instance_type="c5.large",
    max_price_usd_per_hour=0.085,
    checkpoint_interval_s=300.0,
)


OTHER_ZONE = LaunchRequest(
    region="us-east-1",
    zone="us-east-1b",
    instance_type="m5.large",
    max_price_usd_per_hour=0.096,
    checkpoint_interval_s=300.0,
)


def _book(price: float = 0.036, model: Any = CURRENT_ERA) -> PriceBook:
    point = PricePoint(
        timestamp=T0 - timedelta(days=1),
        region="us-east-1",
        zone="us-east-1a",
        instance_type="c5.large",
        product="Linux/UNIX",
        price_usd_per_hour=price,
    )
    history = PriceHistory.from_points([point])
    return PriceBook(model=model, ondemand={"c5.large": 0.085}, history=history)


def _event(seq: int, to: JobState, at_s: float, attempt: int) -> JobEvent:
    at = T0 + timedelta(seconds=at_s)
    return JobEvent(
        job_id="j", seq=seq, from_state=None, to_state=to, at=at, attempt=attempt, actor="t"
    )


def _pointer(attempt: int, taken_s: float) -> CheckpointPointer:
    taken = utc_iso(T0 + timedelta(seconds=taken_s))
    return CheckpointPointer(
        attempt=attempt, seq=1, key="k", sha256="s", size_bytes=1, method="app", taken_at=taken
    )


HISTORY = [
    _event(0, S.SUBMITTED, -5, 1),
    _event(1, S.PENDING, -4, 1),
    _event(2, S.LAUNCHING, 0, 1),
    _event(3, S.RUNNING, 10, 1),
    _event(4, S.INTERRUPTED, 1000, 1),
    _event(5, S.PENDING, 1001, 2),
    _event(6, S.LAUNCHING, 1100, 2),
    _event(7, S.RUNNING, 1120, 2),
    _event(8, S.SUCCEEDED, 2000, 2),
]


def test_attempt_spans_from_the_history() -> None:
    spans = attempt_spans(reversed(HISTORY))
    assert [(s.attempt, s.outcome) for s in spans] == [(1, S.INTERRUPTED), (2, S.SUCCEEDED)]
    assert spans[0].start == T0
    assert spans[0].running_at == T0 + timedelta(seconds=10)
    assert spans[1].end == T0 + timedelta(seconds=2000)


def test_a_span_carries_the_placement_its_history_recorded() -> None:
    launching = HISTORY[6].model_copy(update={"placement": job_placement(OTHER_ZONE)})
    spans = attempt_spans([*HISTORY[:6], launching, *HISTORY[7:]])
    assert [s.placement for s in spans] == [None, job_placement(OTHER_ZONE)]  # None: legacy


def test_an_open_attempt_is_not_a_span() -> None:
    assert attempt_spans(HISTORY[:4]) == []


def test_work_redone_is_what_ran_after_the_last_checkpoint() -> None:
    interrupted = attempt_spans(HISTORY)[0]
    assert work_redone_s(interrupted, [_pointer(1, 600)]) == 400.0
    assert work_redone_s(interrupted, []) == 990.0  # all of it, from RUNNING on
    assert work_redone_s(interrupted, [_pointer(0, 900)]) == 990.0  # not this attempt's
    assert work_redone_s(attempt_spans(HISTORY)[1], []) == 0.0


def test_price_span_per_second_and_on_demand() -> None:
    span = AttemptSpan(
        attempt=1, start=T0, running_at=T0, end=T0 + timedelta(seconds=1800), outcome=S.SUCCEEDED
    )
    entry = price_span(span, placement=job_placement(PLACEMENT), book=_book(), pointers=[])
    assert entry.cost_usd == pytest.approx(0.018)
    assert entry.ondemand_usd == pytest.approx(0.0425)
    assert entry.zone == "us-east-1a"
    on_demand = job_placement(dataclasses.replace(PLACEMENT, market="on-demand"))
    entry = price_span(span, placement=on_demand, book=_book(), pointers=[])
    assert entry.cost_usd == pytest.approx(0.0425)
    unknown = price_span(span, placement=None, book=_book(), pointers=[])
    assert (unknown.instance_type, unknown.zone, unknown.ondemand_usd) == ("", None, 0.0)


def test_bid_era_partial_hour_is_free_when_interrupted() -> None:
    span = AttemptSpan(
        attempt=1,
        start=T0,
        running_at=T0,
        end=T0 + timedelta(seconds=5400),
        outcome=S.INTERRUPTED,
    )
    placement = job_placement(PLACEMENT)
    entry = price_span(span, placement=placement, book=_book(0.04, BID_ERA), pointers=[])
    assert entry.cost_usd == pytest.approx(0.04)  # one full hour, the half is free


async def _run_attempt(
    store: JobStore,
    job_id: str,
    attempt: int,
    start_s: float,
    end: S,
    *,
    placement: LaunchRequest = PLACEMENT,
    length_s: float = 1000.0,
) -> None:
    """PENDING -> LAUNCHING -> RUNNING -> `end`, `start_s` seconds after T0, `length_s` long."""
    steps = ((S.LAUNCHING, start_s), (S.RUNNING, start_s + 10), (end, start_s + length_s))
    for to, at_s in steps:
        job = await store.get(job_id)
        updates = {"placement": job_placement(placement)} if to is S.LAUNCHING else None
        await store.transition(
            job_id,
            {job.state},
            to,
            job.version,
            now=T0 + timedelta(seconds=at_s),
            actor="t",
            attempt=attempt,
            updates=updates,
        )


async def _pending_job(store: JobStore) -> str:
    spec = parse_spec({"name": "t", "command": ["true"], "max_attempts": 3})
    job = await store.create(spec, now=T0 - timedelta(seconds=10), actor="t")
    await store.transition(
        job.job_id, {S.SUBMITTED}, S.PENDING, job.version, now=T0, actor="t", owner=None
    )
    return job.job_id


async def test_a_succeeded_job_is_costed_once(store: JobStore) -> None:
    costing = JobCosting(store=store, book=_book())
    job_id = await _pending_job(store)
    await _run_attempt(store, job_id, 1, 0, S.SUCCEEDED)
    assert await costing.record_final(await store.get(job_id))
    job = await store.get(job_id)
    assert job.cost.spot_usd == pytest.approx(0.01)  # 1000 s at 0.036 USD/h
    assert job.cost.ondemand_usd == pytest.approx(0.085 * 1000 / 3600)
    assert job.cost.work_redone_s == 0
    assert list(job.cost.attempts) == [1]
    assert not await costing.record_final(job)  # already priced: no second write
    assert (await store.get(job_id)).cost == job.cost


async def test_requeue_prices_the_interrupted_attempt_in_the_same_write(
    store: JobStore, launcher: Launcher, resources: Resources, master_settings: Settings
) -> None:
    costing = JobCosting(store=store, book=_book())
    clock = FakeClock(T0 + timedelta(seconds=1001))
    scheduler = make_job_steps(
        master_settings,
        mover=make_mover(store, clock, master_settings.master_id),
        launcher=launcher,
        placer=first_allowed_type("us-east-1"),
        tracker=HeartbeatTracker(),
        resources=resources,
        clock=clock,
        costing=costing,
    ).scheduler
    job_id = await _pending_job(store)
    await store.set_owner(job_id, owner=master_settings.master_id, expected_owner=None)
    await _run_attempt(store, job_id, 1, 0, S.INTERRUPTED)
    await scheduler.requeue(await store.get(job_id))
    job = await store.get(job_id)
    assert (job.state, job.attempt) == (S.PENDING, 2)
    assert job.cost.spot_usd == pytest.approx(0.01)
    assert job.cost.work_redone_s == pytest.approx(990.0)  # no checkpoint: all of it
    await _run_attempt(store, job_id, 2, 1100, S.SUCCEEDED)
    assert await costing.record_final(await store.get(job_id))
    job = await store.get(job_id)
    assert sorted(job.cost.attempts) == [1, 2]
    assert job.cost.spot_usd == pytest.approx(0.02)
    # on demand would have run the useful time only: 2000 s less the 990 s redone
    assert job.cost.ondemand_usd == pytest.approx(0.085 * 1010 / 3600)
    assert job.cost.work_redone_s == pytest.approx(990.0)
    assert job.to_json()["cost"]["spot_usd"] == pytest.approx(0.02)


async def test_supervisor_prices_jobs_once_they_end(
    store: JobStore,
    launcher: Launcher,
    resources: Resources,
    master_settings: Settings,
    clients: Clients,
) -> None:
    clock = FakeClock(T0 + timedelta(seconds=3000))
    tracker = HeartbeatTracker()
    me = master_settings.master_id
    costing = JobCosting(store=store, book=_book())
    steps = make_job_steps(
        master_settings,
        mover=make_mover(store, clock, master_settings.master_id),
        launcher=launcher,
        placer=first_allowed_type("us-east-1"),
        tracker=tracker,
        resources=resources,
        clock=clock,
        costing=costing,
    )
    supervisor = make_supervisor(
        master_settings,
        steps,
        store=store,
        sweeper=Sweeper(
            store=store, launcher=launcher, sns=clients.sns, topic_arn="x", clock=clock
        ),
        health=Health(clock=clock),
        clock=clock,
        wake=asyncio.Event(),
        sweep_every=1000,
        costing=costing,
    )
    ended = await _pending_job(store)  # ended while no master ran: the first pass prices it
    await _run_attempt(store, ended, 1, 0, S.SUCCEEDED)
    live = await _pending_job(store)
    await store.set_owner(live, owner=me, expected_owner=None)
    for to, at_s in ((S.LAUNCHING, 0), (S.RUNNING, 10)):
        job = await store.get(live)
        await store.transition(
            live,
            {job.state},
            to,
            job.version,
            now=T0 + timedelta(seconds=at_s),
            actor="t",
            attempt=1,
            updates={"placement": job_placement(PLACEMENT)} if to is S.LAUNCHING else None,
        )
    tracker.seen(live, 1, clock.monotonic())
    await supervisor.supervise_once()
    assert (await store.get(ended)).cost.spot_usd == pytest.approx(0.01)
    assert (await store.get(live)).cost.attempts == {}
    job = await store.get(live)
    await store.transition(
        live,
        {S.RUNNING},
        S.SUCCEEDED,
        job.version,
        now=T0 + timedelta(seconds=1810),
        actor="worker",
        attempt=1,
    )
    await supervisor.supervise_once()  # it left the live states: priced now
    assert (await store.get(live)).cost.spot_usd == pytest.approx(0.0181)  # 1810 s at 0.036 USD/h


def _two_zone_book() -> PriceBook:
    """c5.large at 0.036 USD/h in us-east-1a, m5.large at 0.048 USD/h in us-east-1b."""
    points = [
        PricePoint(
            timestamp=T0 - timedelta(days=1),
            region="us-east-1",
            zone=zone,
            instance_type=itype,
            product="Linux/UNIX",
            price_usd_per_hour=price,
        )
        for zone, itype, price in (
            ("us-east-1a", "c5.large", 0.036),
            ("us-east-1b", "m5.large", 0.048),
        )
    ]
    return PriceBook(
        model=CURRENT_ERA,
        ondemand={"c5.large": 0.085, "m5.large": 0.096},
        history=PriceHistory.from_points(points),
    )


async def test_each_attempt_is_priced_with_its_own_placement(store: JobStore) -> None:
    costing = JobCosting(store=store, book=_two_zone_book())
    job_id = await _pending_job(store)
    await _run_attempt(store, job_id, 1, 0, S.INTERRUPTED)
    await store.record_checkpoint(job_id, _pointer(1, 600))
    job = await store.get(job_id)
    # re-queued without pricing (as by a master with no price book): both are priced at the end
    await store.transition(
        job_id,
        {S.INTERRUPTED},
        S.PENDING,
        job.version,
        now=T0 + timedelta(seconds=1001),
        actor="t",
        attempt=1,
        new_attempt=2,
    )
    await _run_attempt(store, job_id, 2, 1100, S.SUCCEEDED, placement=OTHER_ZONE, length_s=1800)
    assert await costing.record_final(await store.get(job_id))
    job = await store.get(job_id)
    first, second = job.cost.attempts[1], job.cost.attempts[2]
    assert (first.zone, first.instance_type, first.market) == ("us-east-1a", "c5.large", "spot")
    assert (second.zone, second.instance_type) == ("us-east-1b", "m5.large")
    assert (first.max_price_usd_per_hour, second.max_price_usd_per_hour) == (0.085, 0.096)
    # by hand: 1000 s at 0.036 USD/h in 1a; 1800 s at 0.048 USD/h in 1b (not at 1a's price)
    assert first.cost_usd == 0.01
    assert second.cost_usd == 0.024
    assert first.ondemand_usd == 0.023611111  # 1000 s at c5.large's 0.085 USD/h
    assert second.ondemand_usd == 0.048  # 1800 s at m5.large's 0.096 USD/h
    assert (first.work_redone_s, second.work_redone_s) == (400, 0)  # checkpoint at 600 s
    assert (first.running_at, first.end) == (
        T0 + timedelta(seconds=10),
        T0 + timedelta(seconds=1000),
    )
    assert job.cost.spot_usd == 0.034
    # one on-demand run of the useful 600 + 1800 s, on the newest placement's m5.large
    assert job.cost.ondemand_usd == 0.064
    assert job.cost.work_redone_s == 400
    # what placement reads back: attempt 1 ran from 10 s to its checkpoint at 600 s
    assert checkpointed_work_s(job) == 590.0


def test_an_attempts_checkpoint_copies_are_priced_and_in_the_spot_total() -> None:
    copied = job_placement(PLACEMENT).model_copy(update={"transfer_usd": 0.25})
    declined = HISTORY[6].model_copy(update={"placement": copied})
    again = _event(7, S.PENDING, 1101, 2)  # EC2 declined; placed again, copied again
    relaunched = _event(8, S.LAUNCHING, 1102, 2).model_copy(update={"placement": copied})
    later = [e.model_copy(update={"seq": e.seq + 2}) for e in HISTORY[7:]]
    spans = attempt_spans([*HISTORY[:6], declined, again, relaunched, *later])
    assert [s.transfer_usd for s in spans] == [None, 0.5]
    entries = {
        s.attempt: price_span(s, placement=s.placement, book=_book(), pointers=[]) for s in spans
    }
    assert entries[2].transfer_usd == 0.5
    assert (entries[2].region, entries[1].region) == ("us-east-1", None)  # None: not known
    total = total_cost(entries, ondemand_usd_per_hour=0.085, model=CURRENT_ERA)
    assert total.spot_usd == pytest.approx(entries[1].cost_usd + entries[2].cost_usd + 0.5)


def test_a_declined_launch_neither_starts_the_attempt_nor_names_where_it_ran() -> None:
    declined = HISTORY[6].model_copy(update={"placement": job_placement(PLACEMENT)})
    again = _event(7, S.PENDING, 1101, 2)  # EC2 declined: no instance ran
    relaunched = _event(8, S.LAUNCHING, 1500, 2).model_copy(
        update={"placement": job_placement(OTHER_ZONE)}
    )
    later = [e.model_copy(update={"seq": e.seq + 2}) for e in HISTORY[7:]]
    spans = attempt_spans([*HISTORY[:6], declined, again, relaunched, *later])
    assert spans[1].start == T0 + timedelta(seconds=1500)
    assert spans[1].placement == job_placement(OTHER_ZONE)


def test_an_attempt_is_priced_with_the_book_of_the_region_it_ran_in() -> None:
    west = LaunchRequest(
        region="us-west-2",
        zone="us-east-1a",  # the zone the test book knows; only the region picks the book
        instance_type="c5.large",
        max_price_usd_per_hour=0.085,
        checkpoint_interval_s=300.0,
    )
    span = attempt_spans(HISTORY)[0]
    costing = JobCosting(store=None, book=_book(0.036), books={"us-west-2": _book(0.072)})  # type: ignore[arg-type]
    here = price_span(span, placement=job_placement(PLACEMENT), book=_book(0.036), pointers=[])
    there_book = costing.book_of(job_placement(west))
    there = price_span(span, placement=job_placement(west), book=there_book, pointers=[])
    assert there.cost_usd == pytest.approx(2 * here.cost_usd)
    assert costing.book_of(None) is costing.book_of(job_placement(PLACEMENT))
