"""The heartbeat tracker forgets finished jobs: memory stays bounded by the live jobs."""

from __future__ import annotations

from cbas_async.fleet.tracker import HeartbeatTracker


def test_prune_forgets_only_quiet_jobs_that_are_no_longer_live() -> None:
    tracker = HeartbeatTracker()
    tracker.seen("done", 1, at=10.0)
    tracker.confirm("done", 1)
    tracker.seen("live", 2, at=10.0)
    tracker.seen("fresh", 1, at=95.0)  # finished just now: the live list may lag behind
    assert tracker.prune({"live"}, before=90.0) == 1
    assert tracker.last_seen("done") is None
    assert not tracker.pinged("done", 1)
    assert not tracker.confirmed("done", 1)
    assert tracker.last_seen("live") == (2, 10.0)
    assert tracker.pinged("fresh", 1)
    assert len(tracker) == 2


def test_ten_thousand_finished_jobs_leave_nothing_behind() -> None:
    tracker = HeartbeatTracker()
    for n in range(10_000):
        tracker.seen(f"job-{n}", 1, at=float(n % 7))
        tracker.confirm(f"job-{n}", 1)
    assert tracker.prune(set(), before=100.0) == 10_000
    assert len(tracker) == 0
    assert tracker.prune(set(), before=100.0) == 0


def test_confirmed_is_per_attempt_and_a_newer_attempt_replaces_it() -> None:
    tracker = HeartbeatTracker()
    tracker.confirm("j", 1)
    assert tracker.confirmed("j", 1)
    tracker.confirm("j", 2)
    assert not tracker.confirmed("j", 1)
    assert tracker.confirmed("j", 2)
    tracker.forget("j")
    assert not tracker.confirmed("j", 2)


def test_a_notice_counts_once_per_attempt_and_is_forgotten_with_the_job() -> None:
    tracker = HeartbeatTracker()
    tracker.noticed("j", 1, at=10.0)
    tracker.noticed("j", 1, at=50.0)  # the same warning delivered again: the first counts
    assert tracker.notice_at("j", 1) == 10.0
    assert tracker.notice_at("j", 2) is None
    tracker.noticed("j", 2, at=60.0)
    assert tracker.notice_at("j", 1) is None
    assert tracker.notice_at("j", 2) == 60.0
    tracker.noticed("gone", 1, at=5.0)  # never pinged nor watched by this master
    assert tracker.prune({"j"}, before=100.0) == 1
    assert (tracker.notice_at("gone", 1), tracker.notice_at("j", 2)) == (None, 60.0)
