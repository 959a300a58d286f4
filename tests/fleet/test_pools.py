"""The pools' back-offs and decayed history, and the risk surcharge they give the broker."""

from __future__ import annotations

import pytest

from cbas_async.fleet.pools import BACKOFF_MAX_S, MAX_RISK, Pool, PoolBook, risk_of

C5_1A = Pool("us-east-1", "us-east-1a", "c5.large", "spot")


def test_capacity_back_off_doubles_to_its_cap_and_a_launch_resets_it() -> None:
    book = PoolBook()
    delays = [book.no_capacity(C5_1A, now_s=1000.0 * i) for i in range(6)]
    assert delays == [60.0, 120.0, 240.0, 480.0, 900.0, BACKOFF_MAX_S]
    assert book.wait_s(C5_1A, 5000.0) == pytest.approx(900.0)
    assert book.wait_s(C5_1A, 5900.0) == 0.0  # the back-off ran out
    book.launched(C5_1A)
    assert book.no_capacity(C5_1A, 6000.0) == 60.0  # starts over


def test_unavailable_names_only_the_regions_spot_pools_in_back_off() -> None:
    book = PoolBook()
    book.no_capacity(C5_1A, 0.0)
    book.no_capacity(Pool("eu-west-1", "eu-west-1a", "c5.large", "spot"), 0.0)
    book.no_capacity(Pool("us-east-1", None, "m5.large", "on-demand"), 0.0)
    assert book.unavailable("us-east-1", 10.0) == {("us-east-1a", "c5.large"): 50.0}
    assert book.unavailable("us-east-1", 61.0) == {}


def test_a_price_refusal_blocks_jobs_capped_at_or_below_that_price_only() -> None:
    book = PoolBook()
    book.price_refused(C5_1A, 0.02, now_s=0.0)
    assert book.wait_s(C5_1A, 1.0, max_price=0.02) == 59.0
    assert book.wait_s(C5_1A, 1.0, max_price=0.01) == 59.0
    assert book.wait_s(C5_1A, 1.0, max_price=0.05) == 0.0
    book.price_refused(C5_1A, None, now_s=0.0)  # even EC2's default cap was refused
    assert book.wait_s(C5_1A, 1.0, max_price=None) > 0


def test_history_decays_by_half_per_half_life() -> None:
    book = PoolBook(half_life_s=3600.0)
    book.interrupted(C5_1A, 0.0)
    assert book.risk("us-east-1", 0.0) == {("us-east-1a", "c5.large"): 0.5}
    assert book.risk("us-east-1", 3600.0)[("us-east-1a", "c5.large")] == pytest.approx(0.25)
    book.no_capacity(C5_1A, 3600.0)  # 0.25 of interruption + 0.25 of one launch error
    assert book.risk("us-east-1", 3600.0)[("us-east-1a", "c5.large")] == pytest.approx(0.5)
    assert book.risk("eu-west-1", 0.0) == {}


def test_scores_join_the_risk_and_a_perfect_score_adds_nothing() -> None:
    book = PoolBook()
    book.set_scores({("us-east-1a", "c5.large"): 1, ("us-east-1b", "c5.large"): 10})
    book.set_scores({("us-east-1c", "m5.large"): 4})  # merged, not replaced
    assert book.risk("us-east-1", 0.0) == {
        ("us-east-1a", "c5.large"): 0.5,
        ("us-east-1c", "m5.large"): pytest.approx(1 / 3),
    }


def test_risk_of_is_capped() -> None:
    assert risk_of(0.0, 0.0, None) == 0.0
    assert risk_of(2.0, 1.0, 10) == 1.0
    assert risk_of(100.0, 100.0, 1) == MAX_RISK
