"""The broker: pure placement decisions from history, prices and rates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cbas_async.spot.broker import BrokerJob, PlacementChoice, choose_placement
from cbas_async.spot.eras import BID_ERA, CURRENT_ERA
from cbas_async.spot.history import PriceHistory, PricePoint

NOW = datetime(2021, 4, 1, 12, tzinfo=UTC)
ONDEMAND = {"c5.large": 0.085, "m5.large": 0.096}


def _history(prices: dict[tuple[str, str], list[float]], every: timedelta) -> PriceHistory:
    """Each series' prices, one per `every`, ending just before NOW."""
    points = []
    for (zone, itype), values in prices.items():
        for i, price in enumerate(values):
            points.append(
                PricePoint(
                    timestamp=NOW - every * (len(values) - i),
                    region="us-east-1",
                    zone=zone,
                    instance_type=itype,
                    product="Linux/UNIX",
                    price_usd_per_hour=price,
                )
            )
    return PriceHistory.from_points(points)


CALM = _history(
    {
        ("us-east-1a", "c5.large"): [0.040] * 24,
        ("us-east-1b", "c5.large"): [0.035] * 24,
        ("us-east-1a", "m5.large"): [0.030] * 24,
    },
    timedelta(hours=6),
)


def _job(**changes: object) -> BrokerJob:
    values: dict[str, object] = {"instance_types": ("c5.large",), "work_hours": 4.0}
    values.update(changes)
    return BrokerJob(**values)  # type: ignore[arg-type]


def test_picks_the_cheapest_zone_and_type() -> None:
    placement = choose_placement(
        job=_job(instance_types=("c5.large", "m5.large")),
        history=CALM,
        ondemand=ONDEMAND,
        hazard_per_hour=None,
        now=NOW,
        model=CURRENT_ERA,
    )
    assert (placement.zone, placement.instance_type, placement.market) == (
        "us-east-1a",
        "m5.large",
        "spot",
    )
    assert placement.region == "us-east-1"
    assert placement.max_price_usd_per_hour == 0.096  # the cap: on-demand
    assert placement.expected_cost_usd == pytest.approx(0.030 * 4, rel=0.02)


def test_respects_the_max_price_cap() -> None:
    placement = choose_placement(
        job=_job(max_price_usd_per_hour=0.05),
        history=CALM,
        ondemand=ONDEMAND,
        hazard_per_hour=None,
        now=NOW,
        model=CURRENT_ERA,
    )
    assert placement.zone == "us-east-1b"
    assert placement.max_price_usd_per_hour == 0.05


def test_a_high_interruption_rate_shortens_the_checkpoint_interval() -> None:
    def interval(rate: float) -> float:
        placement = choose_placement(
            job=_job(checkpoint_cost_s=300.0),  # longer than the notice: Daly's interval
            history=CALM,
            ondemand=ONDEMAND,
            hazard_per_hour={("us-east-1a", "c5.large"): rate, ("us-east-1b", "c5.large"): rate},
            now=NOW,
            model=CURRENT_ERA,
        )
        assert placement.checkpoint_interval_s is not None
        return placement.checkpoint_interval_s

    assert interval(1.0) < interval(0.1) < interval(0.01)


def test_on_demand_when_spot_cannot_meet_the_deadline() -> None:
    placement = choose_placement(
        job=_job(deadline=NOW + timedelta(hours=4, minutes=10)),
        history=CALM,
        ondemand=ONDEMAND,
        hazard_per_hour={("us-east-1a", "c5.large"): 3.0, ("us-east-1b", "c5.large"): 3.0},
        now=NOW,
        model=CURRENT_ERA,
        outage_s={("us-east-1a", "c5.large"): 3600.0, ("us-east-1b", "c5.large"): 3600.0},
    )
    assert placement.market == "on-demand"
    assert placement.zone is None
    assert placement.checkpoint_interval_s is None
    assert placement.expected_cost_usd == pytest.approx(0.085 * 4)


def test_skips_zones_without_capacity() -> None:
    placement = choose_placement(
        job=_job(),
        history=CALM,
        ondemand=ONDEMAND,
        hazard_per_hour=None,
        now=NOW,
        model=CURRENT_ERA,
        unavailable={("us-east-1b", "c5.large"): float("inf")},
    )
    assert placement.zone == "us-east-1a"


def test_bid_era_max_price_caps_the_risk() -> None:
    # 1a: 0.03 with an hourly spike to 0.5 (above on-demand) one hour in four
    spiky = _history(
        {("us-east-1a", "c5.large"): [0.03, 0.03, 0.03, 0.5] * 42},
        timedelta(hours=1),
    )
    placement = choose_placement(
        job=_job(work_hours=12.0),
        history=spiky,
        ondemand=ONDEMAND,
        hazard_per_hour=None,
        now=NOW - timedelta(minutes=30),  # while the price is 0.03
        model=BID_ERA,
    )
    assert placement.market == "spot"
    assert placement.max_price_usd_per_hour is not None
    assert 0.03 <= placement.max_price_usd_per_hour <= ONDEMAND["c5.large"]
    assert placement.checkpoint_at_hour_end  # hourly billing: checkpoints end paid hours


def test_falls_back_to_on_demand_prices_without_history() -> None:
    placement = choose_placement(
        job=_job(instance_types=("m5.large", "c5.large", "x9.mega")),
        history=PriceHistory({}),
        ondemand=ONDEMAND,
        hazard_per_hour=None,
        now=NOW,
    )
    assert placement.expected_cost_usd == pytest.approx(0.085 * 4)
    assert placement == PlacementChoice(
        region="us-east-1",
        zone=None,
        instance_type="c5.large",
        market="spot",
        max_price_usd_per_hour=0.085,
        checkpoint_interval_s=placement.checkpoint_interval_s,
        expected_cost_usd=placement.expected_cost_usd,
        expected_runtime_s=4 * 3600.0,
    )
    unknown = choose_placement(
        job=_job(instance_types=("x9.mega",), region="eu-west-1"),
        history=CALM,
        ondemand=ONDEMAND,
        hazard_per_hour=None,
        now=NOW,
    )
    assert unknown.instance_type == "x9.mega"
    assert unknown.region == "eu-west-1"
    assert unknown.max_price_usd_per_hour is None
    assert unknown.expected_cost_usd is None


def test_history_after_now_is_not_used() -> None:
    placement = choose_placement(
        job=_job(),
        history=CALM,
        ondemand=ONDEMAND,
        hazard_per_hour=None,
        now=NOW - timedelta(days=30),  # before the first record
    )
    assert placement.zone is None  # no usable spot history: the fallback


def test_no_instance_type_is_an_error() -> None:
    with pytest.raises(ValueError, match="no instance type"):
        choose_placement(
            job=_job(instance_types=()),
            history=CALM,
            ondemand=ONDEMAND,
            hazard_per_hour=None,
            now=NOW,
        )


def test_a_caller_that_bridges_itself_gets_spot() -> None:
    # the case above, where the deadline makes on-demand cheaper: a caller that runs on
    # on-demand itself when its deadline needs it (the simulator's policy) still gets the
    # spot placement, with what it expects of it
    placement = choose_placement(
        job=_job(deadline=NOW + timedelta(hours=4, minutes=10)),
        history=CALM,
        ondemand=ONDEMAND,
        hazard_per_hour={("us-east-1a", "c5.large"): 3.0, ("us-east-1b", "c5.large"): 3.0},
        now=NOW,
        model=CURRENT_ERA,
        outage_s={("us-east-1a", "c5.large"): 3600.0, ("us-east-1b", "c5.large"): 3600.0},
        bridged_by_caller=True,
    )
    assert (placement.market, placement.zone) == ("spot", "us-east-1b")
    assert placement.expected_interruptions == pytest.approx(3.0 * 4, rel=0.5)
    assert placement.expected_instance_s is not None
    assert placement.expected_instance_s > 4 * 3600


@pytest.mark.parametrize(
    ("deadline_hours", "every_hour"),
    [(None, False), (12, False), (8, True)],
)
def test_hourly_billing_checkpoints_every_hour_when_the_deadline_needs_one(
    deadline_hours: int | None, every_hour: bool
) -> None:
    # 4 h of work on a calm market: no checkpoint is worth an extra instance-hour. With 8 h
    # to the deadline, losing the whole run near its end could not be absorbed, so one
    # checkpoint will be taken anyway (the safety net): the fifth hour is paid whatever the
    # plan, and a checkpoint at every hour end fits in it
    deadline = NOW + timedelta(hours=deadline_hours) if deadline_hours else None
    placement = choose_placement(
        job=_job(deadline=deadline),
        history=CALM,
        ondemand=ONDEMAND,
        hazard_per_hour=None,
        now=NOW,
        model=BID_ERA,
    )
    assert placement.checkpoint_at_hour_end is every_hour
    assert placement.checkpoint_interval_s == (3600.0 if every_hour else None)


@pytest.mark.parametrize(("work_hours", "zone"), [(1.0, "us-east-1b"), (100.0, "us-east-1a")])
def test_a_short_job_pays_the_price_now_a_long_one_the_mean(work_hours: float, zone: str) -> None:
    # 1a: 0.02 for a week, 0.05 for the last 8 h; 1b: 0.03 throughout. 1a is cheaper on
    # average, but prices persist: a 1 h job pays about the price now, a 100 h one about
    # the mean
    history = _history(
        {
            ("us-east-1a", "c5.large"): [0.02] * 160 + [0.05] * 8,
            ("us-east-1b", "c5.large"): [0.03] * 168,
        },
        timedelta(hours=1),
    )
    placement = choose_placement(
        job=_job(work_hours=work_hours),
        history=history,
        ondemand=ONDEMAND,
        hazard_per_hour=None,
        now=NOW,
        model=CURRENT_ERA,
    )
    assert placement.zone == zone
