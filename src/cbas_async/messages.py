"""Wire formats between master and worker: user data, pings (SQS), commands (SNS).

Each decodes with validation and raises `InvalidMessage` on anything malformed, so a bad
message is logged and dropped, never a crash.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cbas_async.errors import InvalidMessage

MAX_MESSAGE_BYTES = 64 * 1024


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def encode(self) -> str:
        return self.model_dump_json()


class UserData(_Message):
    """What a worker finds in its instance's user data: its job and where everything is.

    `region` and `bucket` are where the instance runs: its checkpoints go there. The job's
    inputs, outputs and logs are in `home_bucket` of `home_region`, where the tables are
    too; user data without them (older masters) means the same region and bucket."""

    version: Literal[1] = 1
    job_id: str = Field(min_length=1, max_length=128)
    attempt: int = Field(ge=1)
    deployment: str
    region: str
    endpoint_url: str | None = None
    bucket: str
    ping_queue_url: str
    topic_arn: str
    jobs_table: str
    events_table: str
    misc_table: str
    heartbeat_interval_s: float = Field(gt=0)
    notice_poll_s: float = Field(gt=0)
    checkpoint_interval_s: float = Field(gt=0)
    # hourly billing: checkpoints finish just before the end of every N-th instance-hour
    checkpoint_every_hours: int | None = Field(default=None, ge=1, le=24 * 7)
    billing_hour_s: float = Field(default=3600.0, gt=0)  # shrunk by the local cloud's speed
    sns_verify: bool = True
    master_id: str
    # True (a deployment with CBAS_PUBLIC_URL): commands also come by SNS to an HTTP endpoint
    # the worker opens; otherwise it opens no port and sees a cancel on its job record
    command_endpoint: bool = False
    # set: the master writes this attempt's session keys there (`job_keys.py`); "": the
    # worker runs on its instance profile
    credentials_table: str = ""
    home_region: str = ""  # filled from `region` when absent
    home_bucket: str = ""  # filled from `bucket` when absent

    @model_validator(mode="before")
    @classmethod
    def _home_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        filled = dict(data)
        for home, own in (("home_region", "region"), ("home_bucket", "bucket")):
            if not filled.get(home) and own in filled:
                filled[home] = filled[own]
        return filled


class Ping(_Message):
    """A worker's heartbeat: alive, which attempt, how far its checkpoints got."""

    job_id: str = Field(min_length=1, max_length=128)
    attempt: int = Field(ge=1)
    instance_id: str = Field(min_length=1, max_length=64)
    seq: int = Field(ge=0)
    checkpoint_seq: int = Field(ge=0, default=0)
    sent_at: str
    phase: Literal["starting", "running", "checkpointing", "finishing"] = "running"


CommandKind = Literal["cancel", "checkpoint", "shutdown"]


class Command(_Message):
    """A master-to-worker order, published on the master's topic and filtered by instance."""

    kind: CommandKind
    job_id: str
    attempt: int = Field(ge=1)
    instance_id: str


_M = TypeVar("_M", bound=_Message)


def decode(model: type[_M], raw: str | bytes) -> _M:
    """Parse and validate one message; `InvalidMessage` names the first problem."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise InvalidMessage(f"{model.__name__}: message of {len(raw)} bytes is too large")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        raise InvalidMessage(f"{model.__name__}: {where}: {first['msg']}") from exc
