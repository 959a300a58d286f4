"""The `/api/v1` bodies that are not records themselves, one pydantic model each: a page of
jobs, a job's detail, logs, outputs, prices, workers, the caller, errors, the multipart
submission and the query parameters. `openapi.py` makes the OpenAPI document from these
and the records."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from cbas_async.records import CheckpointPointer, JobEvent, JobRecord, UtcTime
from cbas_async.states import JobState


class Body(BaseModel):
    """A response body or request part; frozen, and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Problem(Body):
    field: str
    problem: str


class Error(Body):
    """Any refused request: a message, and the fields at fault (may be none)."""

    error: str
    errors: list[Problem]


class JobPage(Body):
    jobs: list[JobRecord]
    next_page_token: str | None


class AttemptSummary(Body):
    """An attempt that left a trace in the history: when it began, its states, the last;
    where it ran (null until it was placed) and what it cost (null until it was priced)."""

    attempt: int
    started_at: UtcTime
    states: list[JobState]
    last_state: JobState
    last_at: UtcTime
    region: str | None = None
    zone: str | None = None
    instance_type: str | None = None
    cost_usd: float | None = None


class JobDetail(JobRecord):
    """The job with its history, attempts and checkpoints (previous first)."""

    events: list[JobEvent]
    attempts: list[AttemptSummary]
    checkpoints: list[CheckpointPointer]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def max_attempts(self) -> int:
        return self.spec.max_attempts


class LogText(Body):
    attempt: int
    stream: str
    seq: int
    text: str


class Logs(Body):
    job_id: str
    state: JobState
    chunks: list[LogText]


class OutputFile(Body):
    name: str
    size_bytes: int
    url: str


class Outputs(Body):
    job_id: str
    state: JobState
    outputs: list[OutputFile]


class PriceSeries(Body):
    region: str
    zone: str
    instance_type: str
    points: list[tuple[str, float]]  # [ISO time, USD per hour], oldest first


class MaxPrice(Body):
    """The cap a live job's placement set."""

    job_id: str
    region: str
    zone: str | None
    instance_type: str
    max_price_usd_per_hour: float | None


class Prices(Body):
    """Every region of the deployment (`regions`, the home region first), the series of
    those asked, and the caps in use."""

    regions: list[str]
    instance_types: list[str]
    series: list[PriceSeries]
    max_prices: list[MaxPrice]


class Worker(Body):
    """A live job's instance; `last_ping_s_ago` is null until the current attempt pinged."""

    job_id: str
    name: str
    state: JobState
    attempt: int
    instance_id: str | None
    instance_type: str | None
    region: str | None
    zone: str | None
    last_ping_s_ago: float | None


class Workers(Body):
    workers: list[Worker]


class Me(Body):
    """Who the bearer token belongs to: what the UI shows as signed in."""

    token_id: str
    name: str
    owner: str
    role: Literal["admin", "user"]


class SubmitForm(Body):
    """The multipart submission: the spec file, and the input files it names."""

    spec: bytes
    input: list[bytes] = []


# query parameters (each optional) and path parameters, by operation
class ListQuery(Body):
    state: JobState
    limit: Annotated[int, Field(ge=1, le=200)]
    page_token: str


class JobPath(Body):
    job_id: str


class LogsQuery(Body):
    tail: Annotated[int, Field(ge=1, le=1000)]


class OutputPath(JobPath):
    name: str


class PricesQuery(Body):
    instance_type: str
    region: str  # comma separated; the deployment's regions when absent
    hours: Annotated[int, Field(ge=1, le=720)]
