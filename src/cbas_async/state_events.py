"""EC2's "Instance State-change Notification", as EventBridge delivers it: built by the local
cloud for its instances, read by the master from whichever intake carried it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from cbas_async.clock import parse_utc
from cbas_async.events import InstanceStateChanged

STATE_CHANGE = "EC2 Instance State-change Notification"
STATES = frozenset({"pending", "running", "stopping", "stopped", "shutting-down", "terminated"})
# the states in which the instance no longer runs its worker
GONE = frozenset({"shutting-down", "terminated", "stopping", "stopped"})


def state_change(
    instance_id: str, state: str, *, region: str, account: str, at: datetime
) -> dict[str, Any]:
    """The event exactly as EC2 publishes it to EventBridge."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": STATE_CHANGE,
        "source": "aws.ec2",
        "account": account,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:ec2:{region}:{account}:instance/{instance_id}"],
        "detail": {"instance-id": instance_id, "state": state},
    }


def parse_state_change(event: dict[str, Any]) -> InstanceStateChanged | None:
    """The bus event for a state-change notification; None when `event` is not one or is
    malformed (no instance id, an unknown state, not from EC2)."""
    if event.get("detail-type") != STATE_CHANGE or event.get("source") != "aws.ec2":
        return None
    detail = event.get("detail")
    if not isinstance(detail, dict):
        return None
    instance_id, state = detail.get("instance-id"), detail.get("state")
    if not isinstance(instance_id, str) or not instance_id or state not in STATES:
        return None
    try:
        at = parse_utc(str(event.get("time")))
    except ValueError:
        return None
    return InstanceStateChanged(instance_id=instance_id, state=str(state), at=at)
