"""EC2's state-change notification: the local cloud's events read back as the master reads
AWS's, and anything else is not taken for one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cbas_async.events import InstanceStateChanged
from cbas_async.state_events import parse_state_change, state_change

AT = datetime(2026, 12, 6, 12, 0, 1, tzinfo=UTC)


def test_the_event_has_aws_s_shape_and_reads_back() -> None:
    event = state_change("i-0abc", "shutting-down", region="eu-west-1", account="111", at=AT)
    assert event["detail-type"] == "EC2 Instance State-change Notification"
    assert event["source"] == "aws.ec2"
    assert event["time"] == "2026-12-06T12:00:01Z"
    assert event["resources"] == ["arn:aws:ec2:eu-west-1:111:instance/i-0abc"]
    assert event["detail"] == {"instance-id": "i-0abc", "state": "shutting-down"}
    assert parse_state_change(event) == InstanceStateChanged(
        instance_id="i-0abc", state="shutting-down", at=AT
    )


def _with(**changes: Any) -> dict[str, Any]:
    event = state_change("i-0abc", "terminated", region="us-east-1", account="1", at=AT)
    return {**event, **changes}


@pytest.mark.parametrize(
    "event",
    [
        _with(**{"detail-type": "EC2 Spot Instance Interruption Warning"}),
        _with(source="my.app"),
        _with(detail={"instance-id": "i-0abc", "state": "exploded"}),
        _with(detail={"state": "terminated"}),
        _with(detail="terminated"),
        _with(time="yesterday"),
    ],
)
def test_other_or_malformed_events_are_not_state_changes(event: dict[str, Any]) -> None:
    assert parse_state_change(event) is None
