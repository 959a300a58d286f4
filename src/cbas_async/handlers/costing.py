"""Cost per job: every attempt priced from the price book's history under the market's
billing, what on-demand would have cost, and the work redone after interruptions.

An attempt runs from its LAUNCHING (or RUNNING) entry in `job-events` to the first
INTERRUPTED, SUCCEEDED, FAILED or CANCELLED after it, and is priced with its own
placement: the zone, type, market and max price that its LAUNCHING entry recorded. Each
priced attempt is kept in the job's `cost_attempts` map under its number and never
recomputed; the totals (`cost_usd`, `ondemand_usd`, `work_redone_s`) are derived from the
whole map. So pricing a job twice, or from two places, never counts an attempt twice.

Approximations:
- the instance's own lifetime is not recorded (the sweeper and the lost-worker check
  terminate instances without writing when), so a span runs between state changes:
  LAUNCHING is written just before RunInstances; a provider-interrupted worker writes
  INTERRUPTED after its final checkpoint, up to the notice's 2 minutes before its
  instance goes (under counted); a lost worker's instance, terminated by the master just
  before INTERRUPTED if it hung, may have died up to the lost-worker timeout earlier (over
  counted); a finished one runs on until it shuts itself down or the sweeper terminates
  it (under counted);
- history entries written before placements were kept in them have none: such an attempt
  is priced with the job's current placement;
- `ondemand_usd`, one on-demand run of the useful time, is priced at the current
  placement's type;
- work redone is the time run since the attempt's last known checkpoint (older pointers
  are not kept).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog

from cbas_async.clock import parse_utc, utc_iso
from cbas_async.errors import JobNotFound, StaleWrite
from cbas_async.records import CheckpointPointer, JobEvent, JobRecord
from cbas_async.spot.cost import AttemptCost, attempt_cost, job_cost
from cbas_async.spot.eras import MarketModel
from cbas_async.spot.pricebook import PriceBook
from cbas_async.states import JobState
from cbas_async.store import JobStore

log = structlog.get_logger(__name__)

_STARTS = frozenset({JobState.LAUNCHING, JobState.RUNNING})
_ENDS = frozenset({JobState.INTERRUPTED, JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptSpan:
    """When one attempt's instance ran, how the attempt ended, and where it ran (None when
    its history entries predate placements being kept in them)."""

    attempt: int
    start: datetime
    running_at: datetime | None
    end: datetime
    outcome: JobState
    placement: dict[str, Any] | None = None


def attempt_spans(events: Iterable[JobEvent]) -> list[AttemptSpan]:
    """The finished attempts of a job's history, oldest first."""
    spans: list[AttemptSpan] = []
    opened: tuple[int, datetime] | None = None
    running_at: datetime | None = None
    placement: dict[str, Any] | None = None
    for event in sorted(events, key=lambda e: e.seq):
        if event.to_state in _STARTS and opened is None:
            opened = (event.attempt, event.at)
        if opened is None:
            continue
        if event.to_state is JobState.RUNNING:
            running_at = running_at or event.at
        placement = placement or event.placement
        if event.to_state in _ENDS:
            attempt, start = opened
            spans.append(
                AttemptSpan(
                    attempt=attempt,
                    start=start,
                    running_at=running_at,
                    end=event.at,
                    outcome=event.to_state,
                    placement=placement,
                )
            )
            opened, running_at, placement = None, None, None
    return spans


def work_redone_s(span: AttemptSpan, pointers: Sequence[CheckpointPointer]) -> float:
    """Work an interrupted attempt did after its last checkpoint (a restart redoes it)."""
    if span.outcome is not JobState.INTERRUPTED or span.running_at is None:
        return 0.0
    since = span.running_at
    own = [p for p in pointers if p.attempt == span.attempt]
    if own:
        taken = max(parse_utc(p.taken_at) for p in own)
        since = max(since, taken)
    return max((span.end - since).total_seconds(), 0.0)


def price_span(
    span: AttemptSpan,
    *,
    placement: Mapping[str, Any],
    book: PriceBook,
    pointers: Sequence[CheckpointPointer],
) -> dict[str, Any]:
    """One `cost_attempts` entry (numbers as Decimal, for DynamoDB)."""
    itype = str(placement.get("instance_type") or "")
    zone = placement.get("zone") or None
    market = str(placement.get("market") or "spot")
    cost = attempt_cost(
        history=book.history,
        zone=zone,
        instance_type=itype,
        start=span.start,
        end=span.end,
        model=book.model,
        ondemand_usd_per_hour=_ondemand_price(book, placement),
        spot=market == "spot",
        provider_interrupted=span.outcome is JobState.INTERRUPTED,
        work_redone_s=work_redone_s(span, pointers),
    )
    return {
        "zone": zone,
        "instance_type": itype,
        "market": market,
        "max_price_usd_per_hour": placement.get("max_price_usd_per_hour"),
        "start": utc_iso(span.start),
        "running_at": utc_iso(span.running_at) if span.running_at else None,
        "end": utc_iso(span.end),
        "outcome": span.outcome.value,
        "duration_s": _number(cost.duration_s),
        "cost_usd": _number(cost.cost_usd),
        "ondemand_usd": _number(cost.ondemand_usd),
        "work_redone_s": _number(cost.work_redone_s),
    }


def cost_totals(
    entries: Mapping[str, Mapping[str, Any]], *, ondemand_usd_per_hour: float, model: MarketModel
) -> dict[str, Decimal]:
    """The job's totals: spot cost, one on-demand run of the useful time, work redone."""
    attempts = [
        AttemptCost(
            cost_usd=float(e["cost_usd"]),
            ondemand_usd=float(e["ondemand_usd"]),
            duration_s=float(e["duration_s"]),
            work_redone_s=float(e["work_redone_s"]),
        )
        for e in entries.values()
    ]
    total = job_cost(attempts, ondemand_usd_per_hour=ondemand_usd_per_hour, model=model)
    return {
        "cost_usd": _number(total.cost_usd),
        "ondemand_usd": _number(total.ondemand_usd),
        "work_redone_s": _number(total.work_redone_s),
    }


class JobCosting:
    """Prices a job's finished attempts and writes them to its item; idempotent."""

    def __init__(self, *, store: JobStore, book: PriceBook) -> None:
        self._store = store
        self._book = book

    async def cost_updates(self, job: JobRecord) -> dict[str, Any]:
        """The fields to set: the attempts' map with the newly finished ones, and totals."""
        spans = attempt_spans(await self._store.events(job.job_id))
        pointers = [p for p in (job.checkpoint, job.checkpoint_prev) if p is not None]
        placement = job.placement or {}
        entries: dict[str, Any] = {k: dict(v) for k, v in job.cost_attempts.items()}
        for span in spans:
            key = str(span.attempt)
            if key not in entries:
                own = span.placement or placement
                entries[key] = price_span(span, placement=own, book=self._book, pointers=pointers)
        totals = cost_totals(
            entries,
            ondemand_usd_per_hour=_ondemand_price(self._book, placement),
            model=self._book.model,
        )
        return {"cost_attempts": _decimals(entries), **totals}

    async def record_final(self, job: JobRecord) -> bool:
        """Price a terminal job once its last attempt is in; False when there was nothing
        to do or another writer changed the job meanwhile."""
        if not job.state.terminal or str(job.attempt) in job.cost_attempts:
            return False
        updates = await self.cost_updates(job)
        try:
            await self._store.update_fields(
                job.job_id, attempt=job.attempt, updates=updates, states={job.state}
            )
        except (StaleWrite, JobNotFound):
            return False
        log.info(
            "job_costed",
            job_id=job.job_id,
            cost_usd=float(updates["cost_usd"]),
            ondemand_usd=float(updates["ondemand_usd"]),
        )
        return True


def _ondemand_price(book: PriceBook, placement: Mapping[str, Any]) -> float:
    """The type's on-demand price; unknown types fall back to the placement's cap."""
    known = book.ondemand_price(str(placement.get("instance_type") or ""))
    if known is not None:
        return known
    cap = placement.get("max_price_usd_per_hour")
    return float(cap) if cap else 0.0


def _number(value: float) -> Decimal:
    return Decimal(f"{value:.9f}")


def _decimals(value: Any) -> Any:
    """Stored numbers read back as float or int: written again as Decimal."""
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, float | int) and not isinstance(value, bool):
        return _number(float(value))
    return value
