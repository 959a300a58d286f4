"""The job record's models: items of today's shape still load, and item, JSON and model
agree in both directions (pure, no cloud)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from cbas_async.errors import InvalidSpec
from cbas_async.jobs import parse_spec
from cbas_async.records import (
    CheckpointPointer,
    JobCost,
    JobEvent,
    JobPlacement,
    JobRecord,
    PricedAttempt,
    dynamo_value,
)
from cbas_async.states import JobState

# A job item as the version before the typed record wrote it (read back from the moto
# server after an interrupted, priced, re-queued attempt): numbers are Decimal, the
# placement's prices are strings, the costs carry nine decimals, `instance_id` sits on the
# item as well as in the placement.
STORED_ITEM: dict[str, Any] = {
    "job_id": "j-20261127T115950-4d8d44bb",
    "state": "PENDING",
    "version": Decimal("5"),
    "attempt": Decimal("2"),
    "spec_json": '{"command": ["true"], "max_attempts": 3, "name": "t"}',
    "created_at": "2026-11-27T11:59:50.000000Z",
    "updated_at": "2026-11-27T12:16:41.000000Z",
    "placement": {
        "region": "us-east-1",
        "zone": "us-east-1a",
        "instance_type": "c5.large",
        "max_price_usd_per_hour": "0.085",
        "checkpoint_interval_s": "300.0",
        "market": "spot",
        "instance_id": "i-0abc",
    },
    "instance_id": "i-0abc",
    "notice_at": "2026-11-27T12:15:40.000000Z",
    "checkpoint": {
        "attempt": Decimal("1"),
        "seq": Decimal("2"),
        "key": "k/2",
        "sha256": "cd",
        "size_bytes": Decimal("11"),
        "method": "app",
        "taken_at": "2026-11-27T12:15:00.000000Z",
        "extra": {},
    },
    "checkpoint_prev": {
        "attempt": Decimal("1"),
        "seq": Decimal("1"),
        "key": "k/1",
        "sha256": "ab",
        "size_bytes": Decimal("10"),
        "method": "app",
        "taken_at": "2026-11-27T12:08:20.000000Z",
        "extra": {"duration_s": "2.5"},
    },
    "cost_attempts": {
        "1": {
            "zone": "us-east-1a",
            "instance_type": "c5.large",
            "market": "spot",
            "max_price_usd_per_hour": "0.085",
            "start": "2026-11-27T12:00:00.000000Z",
            "running_at": "2026-11-27T12:00:10.000000Z",
            "end": "2026-11-27T12:16:40.000000Z",
            "outcome": "INTERRUPTED",
            "duration_s": Decimal("1000.000000000"),
            "cost_usd": Decimal("0.010000000"),
            "ondemand_usd": Decimal("0.023611111"),
            "work_redone_s": Decimal("100.000000000"),
        }
    },
    "cost_usd": Decimal("0.010000000"),
    "ondemand_usd": Decimal("0.021250000"),
    "work_redone_s": Decimal("100.000000000"),
}
# a history entry of the same version: LAUNCHING with its placement, no `detail`
STORED_EVENT: dict[str, Any] = {
    "job_id": "j-20261127T115950-4d8d44bb",
    "seq": Decimal("2"),
    "to_state": "LAUNCHING",
    "at": "2026-11-27T12:00:00.000000Z",
    "attempt": Decimal("1"),
    "actor": "t",
    "from_state": "PENDING",
    "placement": {
        "region": "us-east-1",
        "zone": "us-east-1a",
        "instance_type": "c5.large",
        "max_price_usd_per_hour": "0.085",
        "checkpoint_interval_s": "300.0",
        "market": "spot",
    },
}


def _numbers(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return [value] if isinstance(value, int | float | Decimal) else []


def test_a_stored_item_of_todays_shape_loads_typed() -> None:
    job = JobRecord.from_item(STORED_ITEM)
    assert (job.state, job.version, job.attempt) == (JobState.PENDING, 5, 2)
    assert job.spec == parse_spec({"name": "t", "command": ["true"]})
    assert job.spec.max_attempts == 3
    assert job.created_at == datetime(2026, 11, 27, 11, 59, 50, tzinfo=UTC)
    assert job.placement == JobPlacement(
        region="us-east-1",
        zone="us-east-1a",
        instance_type="c5.large",
        max_price_usd_per_hour=0.085,
        checkpoint_interval_s=300.0,
        instance_id="i-0abc",
    )
    assert job.checkpoint is not None
    assert job.checkpoint.seq == 2
    assert job.checkpoint_prev is not None
    assert job.checkpoint_prev.extra == {"duration_s": "2.5"}
    assert (job.cost.spot_usd, job.cost.ondemand_usd, job.cost.work_redone_s) == (
        0.01,
        0.02125,
        100.0,
    )
    first = job.cost.attempts[1]
    assert (first.outcome, first.max_price_usd_per_hour, first.duration_s) == (
        JobState.INTERRUPTED,
        0.085,
        1000.0,
    )
    assert first.running_at == datetime(2026, 11, 27, 12, 0, 10, tzinfo=UTC)


def test_a_stored_item_round_trips_through_the_model() -> None:
    job = JobRecord.from_item(STORED_ITEM)
    item = job.to_item()
    assert JobRecord.from_item(item) == job
    # the same attributes as before, bar those the record does not own
    assert set(item) == set(STORED_ITEM) - {"instance_id", "notice_at"}
    assert all(type(n) in (int, Decimal) for n in _numbers(item))  # DynamoDB takes no float
    assert item["cost_attempts"]["1"]["cost_usd"] == Decimal("0.01")
    assert item["created_at"] == STORED_ITEM["created_at"]
    assert item["cost_attempts"]["1"]["end"] == "2026-11-27T12:16:40.000000Z"


def test_a_stored_history_entry_round_trips() -> None:
    event = JobEvent.from_item(STORED_EVENT)
    assert event.placement is not None
    assert event.placement.checkpoint_interval_s == 300.0
    assert JobEvent.from_item(event.to_item()) == event
    assert "detail" not in event.to_item()  # None is not stored


def test_the_api_json_reads_back_as_the_same_record() -> None:
    job = JobRecord.from_item(STORED_ITEM)
    body = job.to_json()
    assert body["name"] == "t"
    assert body["cost"]["attempts"]["1"]["cost_usd"] == 0.01
    assert body["placement"]["max_price_usd_per_hour"] == 0.085
    assert body["created_at"] == "2026-11-27T11:59:50.000000Z"
    assert JobRecord.from_json(body) == job


def test_a_fresh_record_stores_no_nulls() -> None:
    now = datetime(2026, 11, 27, tzinfo=UTC)
    job = JobRecord(
        job_id="j",
        state=JobState.SUBMITTED,
        version=0,
        attempt=1,
        spec=parse_spec({"name": "t", "command": ["true"]}),
        created_at=now,
        updated_at=now,
    )
    item = job.to_item()
    # "does not exist" conditions (owner, checkpoint) need these absent, not null
    assert not {"owner", "placement", "checkpoint", "exit_code", "reason"} & set(item)
    assert JobRecord.from_item(item) == job
    assert JobCost.from_item(item) == JobCost()


def test_a_stored_spec_that_no_longer_validates_is_an_invalid_spec() -> None:
    broken = {**STORED_ITEM, "spec_json": '{"name": "t", "command": []}'}
    with pytest.raises(InvalidSpec) as info:
        JobRecord.from_item(broken)
    assert info.value.errors == [("command", "must not be empty")]


def test_an_item_missing_a_required_attribute_is_refused() -> None:
    with pytest.raises(ValueError, match="version"):
        JobRecord.from_item({k: v for k, v in STORED_ITEM.items() if k != "version"})


def test_dynamo_values_are_decimal_and_text_keyed() -> None:
    assert dynamo_value({1: [0.1, 2, True, None, "x"]}) == {
        "1": [Decimal("0.1"), 2, True, None, "x"]
    }


def test_priced_attempt_and_pointer_items_keep_their_fields() -> None:
    pointer = CheckpointPointer.from_item(STORED_ITEM["checkpoint"])
    assert pointer.to_item() == {**STORED_ITEM["checkpoint"], "attempt": 1, "seq": 2}
    entry = PricedAttempt.model_validate(STORED_ITEM["cost_attempts"]["1"])
    assert set(entry.to_item()) == set(STORED_ITEM["cost_attempts"]["1"])


def test_a_move_between_regions_round_trips_and_old_items_carry_none_of_it() -> None:
    old = JobRecord.from_item(STORED_ITEM)
    assert (old.move_to, old.placement and old.placement.transfer_usd) == (None, None)
    assert old.cost.attempts[1].transfer_usd is None
    assert not {"move_to", "transfer_usd"} & (set(old.to_item()) | set(old.to_item()["placement"]))
    assert "transfer_usd" not in old.to_item()["cost_attempts"]["1"]
    assert old.placement is not None
    placement = old.placement.model_copy(update={"region": "us-west-2", "transfer_usd": 0.02})
    attempt = old.cost.attempts[1].model_copy(update={"region": "us-west-2", "transfer_usd": 0.02})
    cost = old.cost.model_copy(update={"attempts": {1: attempt}})
    moved = old.model_copy(update={"move_to": "us-west-2", "placement": placement, "cost": cost})
    item = moved.to_item()
    assert item["move_to"] == "us-west-2"
    assert item["placement"]["transfer_usd"] == Decimal("0.02")
    assert item["cost_attempts"]["1"]["transfer_usd"] == Decimal("0.02")
    assert JobRecord.from_item(item) == moved
    assert JobRecord.from_json(moved.to_json()) == moved
