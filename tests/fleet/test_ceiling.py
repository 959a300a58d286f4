"""The live-vCPU ceiling and quota holds, pure: admission in submission order, never over."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from cbas_async.fleet.ceiling import Claim, LaunchGate

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def _at(i: int) -> datetime:
    return T0 + timedelta(seconds=i)


def test_thirty_jobs_under_a_four_vcpu_ceiling_never_exceed_it_and_all_run() -> None:
    gate = LaunchGate(limit_vcpus=4)
    rng = random.Random(14)
    sizes = {f"j{i:02}": rng.choice((1, 2, 2, 4)) for i in range(30)}
    pending, running, admitted = sorted(sizes), set(), []
    for tick in range(500):
        for job_id in list(pending):  # a supervisor pass, in whatever order the store gives
            if gate.admit(job_id, _at(int(job_id[1:])), Claim(sizes[job_id], "spot"), tick):
                continue
            assert gate.live_vcpus <= 4  # at every launch
            pending.remove(job_id)
            running.add(job_id)
            admitted.append(job_id)
        for job_id in [j for j in running if rng.random() < 0.3]:  # some finish
            running.discard(job_id)
            gate.keep_only(set(pending) | running)
        rng.shuffle(pending)
        if not pending and not running:
            break
    assert admitted == sorted(sizes)  # in submission order
    assert gate.live_vcpus == 0


def test_an_older_waiting_job_goes_before_a_younger_one_that_would_fit() -> None:
    gate = LaunchGate(limit_vcpus=4)
    assert gate.admit("a", _at(0), Claim(2, "spot"), 0.0) is None
    assert gate.admit("big", _at(1), Claim(4, "spot"), 0.0) is not None
    reason = gate.admit("small", _at(2), Claim(2, "spot"), 0.0)
    assert reason is not None
    assert "vCPU ceiling 4" in reason
    gate.release("a")
    assert gate.admit("small", _at(2), Claim(2, "spot"), 0.0) is not None  # big is older
    assert gate.admit("big", _at(1), Claim(4, "spot"), 0.0) is None


def test_no_limit_admits_everything() -> None:
    gate = LaunchGate(limit_vcpus=None)
    assert all(gate.admit(f"j{i}", _at(i), Claim(64, "spot"), 0.0) is None for i in range(10))


def test_observed_attempts_count_and_a_new_launch_replaces_the_jobs_old_claim() -> None:
    gate = LaunchGate(limit_vcpus=4)
    gate.observe("running", Claim(4, "spot"))
    assert gate.admit("new", _at(5), Claim(1, "spot"), 0.0) is not None
    gate.observe("running", Claim(2, "spot"))  # already counted: unchanged
    assert gate.live_vcpus == 4
    assert gate.admit("running", _at(0), Claim(2, "spot"), 0.0) is None  # its next attempt
    assert gate.live_vcpus == 2


def test_a_quota_hold_stops_its_market_until_an_instance_frees_up_or_it_runs_out() -> None:
    gate = LaunchGate(limit_vcpus=None)
    assert gate.admit("a", _at(0), Claim(2, "spot"), 0.0) is None
    assert gate.quota_reached("spot", 0.0) == 60.0
    reason = gate.admit("b", _at(1), Claim(2, "spot"), 1.0)
    assert reason is not None
    assert "spot quota" in reason
    assert gate.admit("c", _at(2), Claim(2, "on-demand"), 1.0) is None  # other market
    gate.release("a")  # an instance freed up
    assert gate.admit("b", _at(1), Claim(2, "spot"), 2.0) is None
    assert gate.quota_reached("spot", 10.0) == 120.0  # doubles while it keeps happening
    assert gate.admit("d", _at(3), Claim(2, "spot"), 129.0) is not None
    assert gate.admit("d", _at(3), Claim(2, "spot"), 131.0) is None  # the back-off ran out
    gate.quota_ok("spot")
    assert gate.quota_reached("spot", 200.0) == 60.0


def test_a_launch_that_started_nothing_frees_its_vcpus_but_not_the_quota() -> None:
    gate = LaunchGate(limit_vcpus=4)
    assert gate.admit("a", _at(0), Claim(4, "spot"), 0.0) is None
    gate.quota_reached("spot", 0.0)
    gate.withdraw("a")  # its launch was declined
    assert gate.live_vcpus == 0
    assert gate.admit("b", _at(1), Claim(2, "spot"), 1.0) is not None  # still held
