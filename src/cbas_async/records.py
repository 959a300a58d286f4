"""The job record: what one item of the `jobs` table says about a job (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from cbas_async.clock import parse_utc
from cbas_async.states import JobState


def plain(value: Any) -> Any:
    """DynamoDB values (Decimal, sets) as plain JSON-ready Python values."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointPointer:
    """Where one checkpoint lives in S3 and how to check it."""

    attempt: int
    seq: int
    key: str
    sha256: str
    size_bytes: int
    method: str
    taken_at: str
    extra: dict[str, str] = field(default_factory=dict)

    def to_item(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "seq": self.seq,
            "key": self.key,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "method": self.method,
            "taken_at": self.taken_at,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> CheckpointPointer:
        data = plain(item)
        return cls(
            attempt=int(data["attempt"]),
            seq=int(data["seq"]),
            key=str(data["key"]),
            sha256=str(data["sha256"]),
            size_bytes=int(data["size_bytes"]),
            method=str(data["method"]),
            taken_at=str(data["taken_at"]),
            extra={str(k): str(v) for k, v in data.get("extra", {}).items()},
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRecord:
    """One job as stored. `version` counts transitions; `attempt` is the fencing token."""

    job_id: str
    state: JobState
    version: int
    attempt: int
    spec: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    owner: str | None = None
    placement: dict[str, Any] | None = None
    checkpoint: CheckpointPointer | None = None
    checkpoint_prev: CheckpointPointer | None = None
    cost_usd: float = 0.0
    ondemand_usd: float = 0.0
    work_redone_s: float = 0.0
    cost_attempts: dict[str, dict[str, Any]] = field(default_factory=dict)  # by attempt number
    exit_code: int | None = None
    reason: str | None = None

    @property
    def max_attempts(self) -> int:
        return int(self.spec.get("max_attempts", 3))

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> JobRecord:
        data = plain(item)
        ckpt, prev = item.get("checkpoint"), item.get("checkpoint_prev")
        return cls(
            job_id=data["job_id"],
            state=JobState(data["state"]),
            version=int(data["version"]),
            attempt=int(data["attempt"]),
            spec=json.loads(data["spec_json"]),
            created_at=parse_utc(data["created_at"]),
            updated_at=parse_utc(data["updated_at"]),
            owner=data.get("owner"),
            placement=data.get("placement"),
            checkpoint=CheckpointPointer.from_item(ckpt) if ckpt else None,
            checkpoint_prev=CheckpointPointer.from_item(prev) if prev else None,
            cost_usd=float(data.get("cost_usd", 0.0)),
            ondemand_usd=float(data.get("ondemand_usd", 0.0)),
            work_redone_s=float(data.get("work_redone_s", 0.0)),
            cost_attempts=dict(data.get("cost_attempts") or {}),
            exit_code=data.get("exit_code"),
            reason=data.get("reason"),
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobRecord:
        """The inverse of `to_json`, for records read from the REST API."""
        ckpt, cost = data.get("checkpoint"), data.get("cost") or {}
        return cls(
            job_id=str(data["job_id"]),
            state=JobState(data["state"]),
            version=int(data["version"]),
            attempt=int(data["attempt"]),
            spec=dict(data["spec"]),
            created_at=parse_utc(data["created_at"]),
            updated_at=parse_utc(data["updated_at"]),
            owner=data.get("owner"),
            placement=data.get("placement"),
            checkpoint=CheckpointPointer.from_item(ckpt) if ckpt else None,
            cost_usd=float(cost.get("spot_usd", 0.0)),
            ondemand_usd=float(cost.get("ondemand_usd", 0.0)),
            work_redone_s=float(cost.get("work_redone_s", 0.0)),
            cost_attempts=dict(cost.get("attempts") or {}),
            exit_code=data.get("exit_code"),
            reason=data.get("reason"),
        )

    def to_json(self) -> dict[str, Any]:
        """The record as the CLI's and API's JSON shows it."""
        return {
            "job_id": self.job_id,
            "name": self.spec.get("name"),
            "state": self.state.value,
            "version": self.version,
            "attempt": self.attempt,
            "owner": self.owner,
            "placement": self.placement,
            "checkpoint": self.checkpoint.to_item() if self.checkpoint else None,
            "cost": {
                "spot_usd": round(self.cost_usd, 6),
                "ondemand_usd": round(self.ondemand_usd, 6),
                "work_redone_s": round(self.work_redone_s, 3),
                "attempts": self.cost_attempts,
            },
            "exit_code": self.exit_code,
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "spec": self.spec,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class JobEvent:
    """One entry of a job's append-only history; `placement` is the one the transition set
    (LAUNCHING), so every attempt's placement outlives the job item's newest."""

    job_id: str
    seq: int
    from_state: JobState | None
    to_state: JobState
    at: datetime
    attempt: int
    actor: str
    detail: str | None = None
    placement: dict[str, Any] | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> JobEvent:
        data = plain(item)
        return cls(
            job_id=data["job_id"],
            seq=int(data["seq"]),
            from_state=JobState(data["from_state"]) if data.get("from_state") else None,
            to_state=JobState(data["to_state"]),
            at=parse_utc(data["at"]),
            attempt=int(data["attempt"]),
            actor=data.get("actor", ""),
            detail=data.get("detail"),
            placement=data.get("placement"),  # absent from entries written before it was kept
        )
