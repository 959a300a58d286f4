"""The master's in-process events: frozen facts, no behaviour, no boto types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

from cbas_async.messages import Ping


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerPinged:
    """A worker's heartbeat arrived over SQS."""

    ping: Ping
    received_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class InterruptionWarned:
    """EC2 announced a spot interruption for an instance (EventBridge via SNS)."""

    instance_id: str
    action: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceStateChanged:
    """EC2 reported an instance's new state (EventBridge "EC2 Instance State-change
    Notification" via SNS)."""

    instance_id: str
    state: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSubmitted:
    """A job was submitted through this master's API: worth a supervisor pass at once."""

    job_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PricesUpdated:
    """The price fetcher stored new spot prices."""

    points: int
    at: datetime


Event: TypeAlias = (
    WorkerPinged | InterruptionWarned | InstanceStateChanged | JobSubmitted | PricesUpdated
)
