"""The DynamoDB job store: the only code that reads or writes the tables.

Every change of a job is a conditional write; a transition and its `job-events` entry are one
transaction, so either both land or neither does. Reads, checkpoint pointers, the `misc`
table and the `tokens` table live in `store_reads`, `store_checkpoints`, `store_misc` and
`store_tokens`; `JobStore` is all of them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any

from aiodynamo.client import Client
from aiodynamo.errors import ConditionalCheckFailed, TransactionCanceled
from aiodynamo.expressions import Condition, F, UpdateExpression
from aiodynamo.models import ReturnValues
from aiodynamo.operations import Put, Update

from cbas_async.clock import utc_iso
from cbas_async.jobs import JobSpec
from cbas_async.records import JobEvent, JobPlacement, JobRecord, Stored
from cbas_async.states import JobState, check_transition
from cbas_async.store_checkpoints import CheckpointPointers
from cbas_async.store_misc import MiscTable
from cbas_async.store_reads import STATE_INDEX
from cbas_async.store_tokens import TokenTable

__all__ = ["STATE_INDEX", "JobStore", "new_job_id"]


def new_job_id(now: datetime) -> str:
    """Time-ordered, unique: `j-20261127T191700-3f9a1c2b`."""
    return f"j-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


class JobStore(CheckpointPointers, MiscTable, TokenTable):
    """Jobs, their history, the `misc` key/value table and the `tokens` table.

    Values in `updates` are stored as given, except a model (`JobPlacement`, ...), which is
    stored as its item."""

    def __init__(
        self,
        *,
        dynamo: Client,
        jobs_table: str,
        events_table: str,
        misc_table: str,
        tokens_table: str = "",
        on_transition: Callable[[JobRecord], None] | None = None,
    ):
        super().__init__(
            dynamo=dynamo,
            jobs_table=jobs_table,
            events_table=events_table,
            misc_table=misc_table,
            tokens_table=tokens_table,
        )
        self._on_transition = on_transition  # metrics; called after each transition written

    async def create(
        self, spec: JobSpec, *, now: datetime, actor: str, submitted_by: str | None = None
    ) -> JobRecord:
        """Store a new SUBMITTED job with a fresh id, and its first history entry."""
        job_id = new_job_id(now)
        record = JobRecord(
            job_id=job_id,
            state=JobState.SUBMITTED,
            version=0,
            attempt=1,
            spec=spec,
            created_at=now,
            updated_at=now,
            submitted_by=submitted_by,
        )
        event = JobEvent(
            job_id=job_id, seq=0, to_state=JobState.SUBMITTED, at=now, attempt=1, actor=actor
        )
        await self._db.transact_write_items(
            [
                Put(self._jobs, record.to_item(), F("job_id").does_not_exist()),
                Put(self._events, event.to_item(), F("job_id").does_not_exist()),
            ]
        )
        return record

    async def transition(
        self,
        job_id: str,
        expected_states: Collection[JobState],
        new_state: JobState,
        expected_version: int,
        *,
        now: datetime,
        actor: str,
        attempt: int | None = None,
        owner: str | None = None,
        new_attempt: int | None = None,
        updates: Mapping[str, Any] | None = None,
        removes: Collection[str] = (),
        detail: str | None = None,
        absent: Collection[str] = (),
    ) -> JobRecord:
        """Move a job from one of `expected_states` at `expected_version` to `new_state`.

        `attempt` fences: the write fails unless the stored attempt equals it; `owner` likewise
        fences a master's write to the jobs it owns; each dotted path of `absent`
        ("placement.instance_id") must not be set. A `placement` in `updates` is kept in
        the `job-events` entry too, where costing finds each attempt's own. Raises
        `IllegalTransition` before writing when the state machine forbids the move, and
        `StaleWrite` when the job is not as expected (another writer won).
        """
        for state in expected_states:
            check_transition(job_id, state, new_state)
        condition = F("state").is_in([s.value for s in expected_states]) & F("version").equals(
            expected_version
        )
        if attempt is not None:
            condition = condition & F("attempt").equals(attempt)
        if owner is not None:
            condition = condition & F("owner").equals(owner)
        for path in absent:
            condition = condition & F(*path.split(".")).does_not_exist()
        change = _update_expression(new_state, utc_iso(now), new_attempt, updates or {}, removes)
        placement = (updates or {}).get("placement")
        event = JobEvent(
            job_id=job_id,
            seq=expected_version + 1,
            # with one expected state the origin is known; otherwise the previous entry says it
            from_state=next(iter(expected_states)) if len(expected_states) == 1 else None,
            to_state=new_state,
            at=now,
            attempt=new_attempt if new_attempt is not None else (attempt or 0),
            actor=actor,
            detail=detail or None,
            placement=JobPlacement.model_validate(placement) if placement else None,
        )
        try:
            await self._db.transact_write_items(
                [
                    Update(self._jobs, {"job_id": job_id}, change, condition),
                    Put(self._events, event.to_item(), F("job_id").does_not_exist()),
                ]
            )
        except TransactionCanceled as exc:
            raise await self._stale(job_id, "state, version or attempt changed") from exc
        record = await self.get(job_id)
        if self._on_transition is not None:
            self._on_transition(record)
        return record

    async def update_fields(
        self,
        job_id: str,
        *,
        attempt: int,
        updates: Mapping[str, Any],
        states: Collection[JobState] | None = None,
    ) -> None:
        """Set fields without a transition, fenced by `attempt` (and `states` if given)."""
        condition: Condition = F("attempt").equals(attempt)
        if states is not None:
            condition = condition & F("state").is_in([s.value for s in states])
        expression = _sets(updates)
        try:
            await self._db.update_item(
                self._jobs, {"job_id": job_id}, expression, condition=condition
            )
        except ConditionalCheckFailed as exc:
            raise await self._stale(job_id, "attempt or state changed") from exc

    async def set_owner(self, job_id: str, *, owner: str, expected_owner: str | None) -> bool:
        """Claim a job for a master; False when someone else's claim is in the way."""
        condition = (
            F("owner").does_not_exist()
            if expected_owner is None
            else F("owner").equals(expected_owner)
        )
        try:
            await self._db.update_item(
                self._jobs,
                {"job_id": job_id},
                F("owner").set(owner),
                condition=condition & F("job_id").exists(),
                return_values=ReturnValues.none,
            )
        except ConditionalCheckFailed:
            return False
        return True

    async def set_target(
        self,
        job_id: str,
        *,
        region: str,
        expected_version: int,
        expected_owner: str | None,
        owner: str | None = None,
        release: bool = False,
    ) -> bool:
        """Record the region the job's next launch goes to, fenced on the version and the
        owner read (not a transition: the version stays); with `owner`, claim the job in the
        same write, with `release` give it up (that region's masters adopt it). False when
        the job changed since it was read."""
        fence = (
            F("owner").does_not_exist()
            if expected_owner is None
            else F("owner").equals(expected_owner)
        )
        change = F("target_region").set(region)
        if owner is not None:
            change = change & F("owner").set(owner)
        elif release:
            change = change & F("owner").remove()
        try:
            await self._db.update_item(
                self._jobs,
                {"job_id": job_id},
                change,
                condition=F("version").equals(expected_version) & fence,
                return_values=ReturnValues.none,
            )
        except ConditionalCheckFailed:
            return False
        return True


def _item_value(value: Any) -> Any:
    return value.to_item() if isinstance(value, Stored) else value


def _sets(updates: Mapping[str, Any]) -> UpdateExpression:
    expression: UpdateExpression | None = None
    for name, value in updates.items():
        part = F(name).set(_item_value(value))
        expression = part if expression is None else expression & part
    if expression is None:
        raise ValueError("no fields to update")
    return expression


def _update_expression(
    new_state: JobState,
    stamp: str,
    new_attempt: int | None,
    updates: Mapping[str, Any],
    removes: Collection[str],
) -> UpdateExpression:
    change = F("state").set(new_state.value) & F("version").add(1) & F("updated_at").set(stamp)
    if new_attempt is not None:
        change = change & F("attempt").set(new_attempt)
    for name, value in updates.items():
        change = change & F(name).set(_item_value(value))
    for name in removes:
        change = change & F(name).remove()
    return change
