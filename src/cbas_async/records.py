"""The job record and its parts, one pydantic model each (pure). Each model gives the item
of the `jobs` or `job-events` table, the API's JSON and the OpenAPI schema of both.

A model's field names are its JSON names, and an item stores the same values under the same
names, with two exceptions on the job's item: the spec is JSON text in `spec_json`, and the
cost lies flat (`cost_usd`, `ondemand_usd`, `work_redone_s`, `cost_attempts`). In an item,
numbers are Decimal, times `utc_iso` text, and a None value is not stored at all (so
"does not exist" conditions keep working).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    WithJsonSchema,
    computed_field,
)

from cbas_async.clock import utc_iso
from cbas_async.jobs import JobSpec, parse_spec, spec_to_dict
from cbas_async.states import JobState


def _as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


UtcTime = Annotated[
    datetime,
    AfterValidator(_as_utc),
    PlainSerializer(utc_iso, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
Market = Literal["spot", "on-demand"]


def dynamo_value(value: Any) -> Any:
    """JSON-ready data as DynamoDB takes it: floats as Decimal (their shortest text), map
    keys as text."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {str(k): dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [dynamo_value(v) for v in value]
    return value


class Stored(BaseModel):
    """A frozen model that is also a DynamoDB map; fields it does not know are ignored (an
    item carries more than a record reads, e.g. `notice_at`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    def to_item(self) -> dict[str, Any]:
        return dict(dynamo_value(self.model_dump(mode="json", exclude_none=True)))

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Self:
        return cls.model_validate(item)

    def to_json(self) -> dict[str, Any]:
        """The API's JSON (what `model_validate` reads back)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls.model_validate(data)


class CheckpointPointer(Stored):
    """Where one checkpoint lives in S3 and how to check it."""

    attempt: int
    seq: int
    key: str
    sha256: str
    size_bytes: int
    method: str
    taken_at: str
    extra: dict[str, str] = {}
    region: str | None = None  # whose bucket holds it; None: the home region's


class JobPlacement(Stored):
    """Where an attempt was launched: what the master recorded at LAUNCHING (and, once
    EC2 answered, the instance id). Not the launcher's `LaunchRequest`, which it is made
    from, nor the broker's choice."""

    region: str
    zone: str | None = None
    instance_type: str
    market: Market = "spot"
    max_price_usd_per_hour: float | None = None
    checkpoint_interval_s: float
    instance_id: str | None = None
    # the checkpoint's copy from another region's bucket made for this launch; None: none
    transfer_usd: float | None = None


class PricedAttempt(Stored):
    """One finished attempt, priced once: where it ran, when, how it ended, what it cost."""

    region: str | None = None  # None: priced before attempts recorded their region
    zone: str | None = None
    instance_type: str
    market: Market = "spot"
    max_price_usd_per_hour: float | None = None
    start: UtcTime
    running_at: UtcTime | None = None  # None: it never ran
    end: UtcTime
    outcome: JobState
    duration_s: float
    cost_usd: float
    ondemand_usd: float
    work_redone_s: float
    transfer_usd: float | None = None  # checkpoint copies between regions; None: none moved


# JobCost's field -> the job item's attribute
_COST_ITEM = {
    "spot_usd": "cost_usd",
    "ondemand_usd": "ondemand_usd",
    "work_redone_s": "work_redone_s",
    "attempts": "cost_attempts",
}


class JobCost(Stored):
    """A job's priced attempts by number, and the totals derived from them."""

    spot_usd: float = 0.0
    ondemand_usd: float = 0.0
    work_redone_s: float = 0.0
    attempts: dict[int, PricedAttempt] = {}

    def to_item(self) -> dict[str, Any]:
        """The job item's flat cost attributes."""
        return {_COST_ITEM[name]: value for name, value in super().to_item().items()}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Self:
        found = {name: item[attr] for name, attr in _COST_ITEM.items() if item.get(attr)}
        return cls.model_validate(found)


class JobRecord(Stored):
    """One job as stored. `version` counts transitions; `attempt` is the fencing token."""

    job_id: str
    state: JobState
    version: int
    attempt: int
    spec: JobSpec
    created_at: UtcTime
    updated_at: UtcTime
    owner: str | None = None  # the master that runs it
    submitted_by: str | None = None  # the API token's owner; None: straight to AWS
    placement: JobPlacement | None = None
    # the region the next launch goes to, as the broker chose it; its masters place the job
    target_region: str | None = None
    # a move of the RUNNING attempt to this region, asked by its master; cleared on re-queue
    move_to: str | None = None
    checkpoint: CheckpointPointer | None = None
    checkpoint_prev: CheckpointPointer | None = None
    cost: JobCost = JobCost()
    exit_code: int | None = None
    reason: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def name(self) -> str:
        return self.spec.name

    def to_item(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude_none=True, exclude={"spec", "cost", "name"})
        spec_json = json.dumps(spec_to_dict(self.spec), sort_keys=True)
        return {**dynamo_value(data), "spec_json": spec_json, **self.cost.to_item()}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Self:
        """Raises `InvalidSpec` when the stored spec no longer validates."""
        data = {k: v for k, v in item.items() if k not in _COST_ITEM.values()}
        data["spec"] = parse_spec(str(data.pop("spec_json")))
        return cls.model_validate({**data, "cost": JobCost.from_item(item)})


class JobEvent(Stored):
    """One entry of a job's append-only history; `placement` is the one the transition set
    (LAUNCHING), so every attempt's placement outlives the job item's newest."""

    job_id: str
    seq: int
    from_state: JobState | None = None
    to_state: JobState
    at: UtcTime
    attempt: int
    actor: str = ""
    detail: str | None = None
    placement: JobPlacement | None = None  # absent from entries written before it was kept
