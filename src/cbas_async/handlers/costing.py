"""Cost per job: every attempt priced from the price book's history under the market's
billing, what on-demand would have cost, and the work redone after interruptions.

An attempt runs from its LAUNCHING (or RUNNING) entry in `job-events` to the first
INTERRUPTED, SUCCEEDED, FAILED or CANCELLED after it, and is priced with its own
placement: the zone, type, market and max price that its LAUNCHING entry recorded. Each
priced attempt is kept in the job's `JobCost.attempts` under its number and never
recomputed; the totals (`spot_usd`, `ondemand_usd`, `work_redone_s`) are derived from all
of them. So pricing a job twice, or from two places, never counts an attempt twice.

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

An attempt resumed in another region than its checkpoint's also carries the checkpoint's
copy (`transfer_usd`, S3 egress, from its LAUNCHING entries' placements), which the job's
spot total includes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from cbas_async.clock import parse_utc
from cbas_async.errors import JobNotFound, StaleWrite
from cbas_async.records import (
    CheckpointPointer,
    JobCost,
    JobEvent,
    JobPlacement,
    JobRecord,
    PricedAttempt,
)
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
    placement: JobPlacement | None = None
    transfer_usd: float | None = None  # its launches' checkpoint copies; None: none


def attempt_spans(events: Iterable[JobEvent]) -> list[AttemptSpan]:
    """The finished attempts of a job's history, oldest first."""
    spans: list[AttemptSpan] = []
    opened: tuple[int, datetime] | None = None
    running_at: datetime | None = None
    placement: JobPlacement | None = None
    transfer_usd: float | None = None
    for event in sorted(events, key=lambda e: e.seq):
        if event.to_state is JobState.PENDING and opened is not None:
            # a launch EC2 declined (LAUNCHING -> PENDING, same attempt): no instance ran;
            # the attempt starts at its next launch, and there, where that one went
            opened, running_at, placement = None, None, None
            continue
        if event.to_state in _STARTS and opened is None:
            opened = (event.attempt, event.at)
        if opened is None:
            continue
        if event.to_state is JobState.RUNNING:
            running_at = running_at or event.at
        placement = placement or event.placement
        transfer_usd = _add_transfer(transfer_usd, event.placement)
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
                    transfer_usd=transfer_usd,
                )
            )
            opened, running_at, placement, transfer_usd = None, None, None, None
    return spans


def _add_transfer(total: float | None, placement: JobPlacement | None) -> float | None:
    """A launch's checkpoint copy added to the attempt's (a launch EC2 declined, placed
    again, may have copied too)."""
    if placement is None or placement.transfer_usd is None:
        return total
    return (total or 0.0) + placement.transfer_usd


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
    placement: JobPlacement | None,
    book: PriceBook,
    pointers: Sequence[CheckpointPointer],
) -> PricedAttempt:
    """One priced attempt (None placement: where it ran is unknown, priced as no type)."""
    itype = placement.instance_type if placement else ""
    zone = placement.zone if placement else None
    market = placement.market if placement else "spot"
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
    return PricedAttempt(
        region=placement.region if placement else None,
        zone=zone,
        instance_type=itype,
        market=market,
        max_price_usd_per_hour=placement.max_price_usd_per_hour if placement else None,
        start=span.start,
        running_at=span.running_at,
        end=span.end,
        outcome=span.outcome,
        duration_s=_number(cost.duration_s),
        cost_usd=_number(cost.cost_usd),
        ondemand_usd=_number(cost.ondemand_usd),
        work_redone_s=_number(cost.work_redone_s),
        transfer_usd=None if span.transfer_usd is None else _number(span.transfer_usd),
    )


def total_cost(
    entries: Mapping[int, PricedAttempt], *, ondemand_usd_per_hour: float, model: MarketModel
) -> JobCost:
    """The job's cost: its attempts, and the totals (spot cost with the checkpoint copies
    between regions, one on-demand run of the useful time, work redone)."""
    attempts = [
        AttemptCost(
            cost_usd=e.cost_usd + (e.transfer_usd or 0.0),
            ondemand_usd=e.ondemand_usd,
            duration_s=e.duration_s,
            work_redone_s=e.work_redone_s,
        )
        for e in entries.values()
    ]
    total = job_cost(attempts, ondemand_usd_per_hour=ondemand_usd_per_hour, model=model)
    return JobCost(
        spot_usd=_number(total.cost_usd),
        ondemand_usd=_number(total.ondemand_usd),
        work_redone_s=_number(total.work_redone_s),
        attempts=dict(entries),
    )


class JobCosting:
    """Prices a job's finished attempts and writes them to its item; idempotent."""

    def __init__(
        self, *, store: JobStore, book: PriceBook, books: Mapping[str, PriceBook] | None = None
    ) -> None:
        """`book`: this master's region's; `books`: every region's, by region (an attempt is
        priced with the book of the region it ran in, else `book`)."""
        self._store = store
        self._book = book
        self._books = books or {}

    def book_of(self, placement: JobPlacement | None) -> PriceBook:
        region = placement.region if placement is not None else None
        return self._books.get(region, self._book) if region is not None else self._book

    async def job_cost(self, job: JobRecord) -> JobCost:
        """The job's cost with its newly finished attempts priced."""
        spans = attempt_spans(await self._store.events(job.job_id))
        pointers = [p for p in (job.checkpoint, job.checkpoint_prev) if p is not None]
        entries = dict(job.cost.attempts)
        for span in spans:
            if span.attempt not in entries:
                own = span.placement or job.placement
                entries[span.attempt] = price_span(
                    span, placement=own, book=self.book_of(own), pointers=pointers
                )
        book = self.book_of(job.placement)
        return total_cost(
            entries, ondemand_usd_per_hour=_ondemand_price(book, job.placement), model=book.model
        )

    async def cost_updates(self, job: JobRecord) -> dict[str, Any]:
        """The item attributes to set: the attempts with the newly finished ones, and totals."""
        return (await self.job_cost(job)).to_item()

    async def record_final(self, job: JobRecord) -> bool:
        """Price a terminal job once its last attempt is in; False when there was nothing
        to do or another writer changed the job meanwhile."""
        if not job.state.terminal or job.attempt in job.cost.attempts:
            return False
        cost = await self.job_cost(job)
        try:
            await self._store.update_fields(
                job.job_id, attempt=job.attempt, updates=cost.to_item(), states={job.state}
            )
        except (StaleWrite, JobNotFound):
            return False
        log.info(
            "job_costed", job_id=job.job_id, cost_usd=cost.spot_usd, ondemand_usd=cost.ondemand_usd
        )
        return True


def _ondemand_price(book: PriceBook, placement: JobPlacement | None) -> float:
    """The type's on-demand price; unknown types fall back to the placement's cap."""
    if placement is None:
        return 0.0
    known = book.ondemand_price(placement.instance_type)
    if known is not None:
        return known
    return placement.max_price_usd_per_hour or 0.0


def _number(value: float) -> float:
    """Nine decimals, as stored."""
    return round(value, 9)
