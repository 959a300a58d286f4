"""Checkpoint timing: plain intervals, and hour-aligned checkpoints computed by hand."""

from __future__ import annotations

import pytest

from cbas_async.worker.checkpoint.schedule import CheckpointSchedule


def test_plain_interval_ignores_the_clock() -> None:
    schedule = CheckpointSchedule(interval_s=300)
    assert schedule.next_delay(elapsed_s=0, expected_duration_s=40) == 300
    assert schedule.next_delay(elapsed_s=12_345, expected_duration_s=40) == 300


@pytest.mark.parametrize(
    ("elapsed_s", "duration_s", "every", "expected"),
    [
        (0, 60, 1, 3600 - 60 - 120),  # first hour: finish 2 min before its end
        (3420, 60, 1, 3600),  # exactly at this hour's start time: the next hour's
        (3419, 60, 1, 1),  # one second before this hour's start time
        (100, 0, 2, 7200 - 120 - 100),  # every second hour
        (7100, 0, 2, 14400 - 120 - 7100),  # too late for hour 2: hour 4
        (0, 3500, 1, 7200 - 3620),  # a checkpoint longer than the hour's head room
    ],
)
def test_hour_aligned_checkpoints_finish_before_the_boundary(
    elapsed_s: float, duration_s: float, every: int, expected: float
) -> None:
    schedule = CheckpointSchedule(interval_s=3600, every_hours=every)
    delay = schedule.next_delay(elapsed_s=elapsed_s, expected_duration_s=duration_s)
    assert delay == pytest.approx(expected)
    finish = elapsed_s + delay + duration_s
    period = every * 3600
    assert finish % period == pytest.approx(period - 120)  # 2 min before a boundary


def test_local_speed_shrinks_the_hour_and_margin() -> None:
    schedule = CheckpointSchedule(interval_s=150, every_hours=1, hour_s=150, margin_s=5)
    assert schedule.next_delay(elapsed_s=0, expected_duration_s=1) == pytest.approx(144)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"interval_s": 0},
        {"interval_s": 10, "hour_s": 0},
        {"interval_s": 10, "margin_s": -1},
        {"interval_s": 10, "every_hours": 0},
    ],
)
def test_bad_schedules_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"schedule|every_hours"):
        CheckpointSchedule(**kwargs)  # type: ignore[arg-type]
