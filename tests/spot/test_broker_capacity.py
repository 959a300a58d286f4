"""The broker's capacity inputs: pools in back-off are skipped, a pool's risk surcharge can
outweigh a lower price, on-demand types can be withheld; and the placer feeds them from the
pools (a job with several types gets the best pool that has capacity)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cbas_async.fleet.pools import Pool, PoolBook
from cbas_async.handlers.placement import broker_placer
from cbas_async.jobs import parse_spec
from cbas_async.records import JobRecord
from cbas_async.spot.broker import choose_placement
from cbas_async.spot.eras import CURRENT_ERA
from cbas_async.spot.history import PriceHistory
from cbas_async.spot.pricebook import PriceBook
from cbas_async.states import JobState
from tests.fakes import FakeClock
from tests.spot.test_broker import CALM, NOW, ONDEMAND, _job


def test_a_risky_cheap_pool_loses_to_a_safe_one_but_not_for_little_risk() -> None:
    def zone(risk: float) -> str | None:
        return choose_placement(
            job=_job(),
            history=CALM,
            ondemand=ONDEMAND,
            hazard_per_hour=None,
            now=NOW,
            model=CURRENT_ERA,
            risk={("us-east-1b", "c5.large"): risk},  # 1b: 0.035, 1a: 0.040
        ).zone

    assert zone(0.0) == "us-east-1b"
    assert zone(0.1) == "us-east-1b"  # 0.0385 < 0.040
    assert zone(0.5) == "us-east-1a"  # 0.0525 > 0.040


def test_the_reported_cost_is_not_scaled_by_the_risk() -> None:
    plain = choose_placement(
        job=_job(), history=CALM, ondemand=ONDEMAND, hazard_per_hour=None, now=NOW
    )
    risky = choose_placement(
        job=_job(),
        history=CALM,
        ondemand=ONDEMAND,
        hazard_per_hour=None,
        now=NOW,
        risk={("us-east-1b", "c5.large"): 0.01},
    )
    assert risky.zone == plain.zone == "us-east-1b"
    assert risky.expected_cost_usd == plain.expected_cost_usd


def test_on_demand_types_in_back_off_are_not_offered() -> None:
    deadline = _job(deadline=NOW + timedelta(hours=4, minutes=10))
    spot_only = {("us-east-1a", "c5.large"): 3.0, ("us-east-1b", "c5.large"): 3.0}
    outage = {("us-east-1a", "c5.large"): 3600.0, ("us-east-1b", "c5.large"): 3600.0}
    placement = choose_placement(
        job=deadline,
        history=CALM,
        ondemand=ONDEMAND,
        hazard_per_hour=spot_only,
        now=NOW,
        model=CURRENT_ERA,
        outage_s=outage,
        ondemand_unavailable={"c5.large"},
    )
    assert placement.market == "spot"  # on demand would win (test_broker), but it has none


def _job_record(*types: str) -> JobRecord:
    spec = parse_spec({"name": "p", "command": ["true"], "resources": {"instance_types": types}})
    return JobRecord(
        job_id="j-1",
        state=JobState.PENDING,
        version=1,
        attempt=1,
        spec=spec,
        created_at=NOW,
        updated_at=NOW,
    )


def test_the_placer_goes_around_pools_in_back_off_to_the_next_best_pool() -> None:
    clock, pools = FakeClock(NOW), PoolBook()
    book = PriceBook(model=CURRENT_ERA, ondemand=ONDEMAND, history=CALM)
    place = broker_placer(book=book, clock=clock, region="us-east-1", pools=pools)
    job = _job_record("c5.large", "m5.large")
    first = place(job)
    assert first is not None
    assert (first.zone, first.instance_type) == ("us-east-1a", "m5.large")  # the cheapest
    pools.no_capacity(Pool("us-east-1", "us-east-1a", "m5.large", "spot"), clock.monotonic())
    second = place(job)
    assert second is not None
    assert (second.zone, second.instance_type) == ("us-east-1b", "c5.large")


def test_the_placer_drops_a_type_whose_any_zone_pool_is_in_back_off() -> None:
    clock, pools = FakeClock(datetime(2026, 12, 1, tzinfo=UTC)), PoolBook()
    book = PriceBook(model=CURRENT_ERA, ondemand=ONDEMAND, history=PriceHistory({}))
    place = broker_placer(book=book, clock=clock, region="us-east-1", pools=pools)
    job = _job_record("c5.large", "m5.large")
    chosen = place(job)
    assert chosen is not None
    assert (chosen.zone, chosen.instance_type) == (None, "c5.large")  # cheapest on demand
    pools.no_capacity(Pool("us-east-1", None, "c5.large", "spot"), 0.0)
    chosen = place(job)
    assert chosen is not None
    assert chosen.instance_type == "m5.large"
    pools.no_capacity(Pool("us-east-1", None, "m5.large", "spot"), 0.0)
    assert place(job) is None  # no allowed pool now: the job waits PENDING
