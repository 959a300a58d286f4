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
class PricesUpdated:
    """The price fetcher stored new spot prices."""

    points: int
    at: datetime


Event: TypeAlias = WorkerPinged | InterruptionWarned | PricesUpdated
