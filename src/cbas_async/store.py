"""The DynamoDB job store: the only code that reads or writes the tables.

Every change of a job is a conditional write; a transition and its `job-events` entry are one
transaction, so either both land or neither does.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any

from aiodynamo.client import Client
from aiodynamo.errors import ConditionalCheckFailed, ItemNotFound, TransactionCanceled
from aiodynamo.expressions import Condition, F, HashKey, UpdateExpression
from aiodynamo.models import ReturnValues
from aiodynamo.operations import Put, Update

from cbas_async.clock import utc_iso
from cbas_async.errors import JobNotFound, StaleWrite
from cbas_async.records import CheckpointPointer, JobEvent, JobRecord
from cbas_async.states import JobState, check_transition

STATE_INDEX = "by-state"


def new_job_id(now: datetime) -> str:
    """Time-ordered, unique: `j-20261127T191700-3f9a1c2b`."""
    return f"j-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


class JobStore:
    """Jobs, their history, and the `misc` key/value table."""

    def __init__(
        self,
        *,
        dynamo: Client,
        jobs_table: str,
        events_table: str,
        misc_table: str,
        on_transition: Callable[[JobRecord], None] | None = None,
    ):
        self._db = dynamo
        self._jobs = jobs_table
        self._events = events_table
        self._misc = misc_table
        self._on_transition = on_transition  # metrics; called after each transition written

    async def create(self, spec: Mapping[str, Any], *, now: datetime, actor: str) -> JobRecord:
        """Store a new SUBMITTED job with a fresh id, and its first history entry."""
        job_id = new_job_id(now)
        stamp = utc_iso(now)
        item = {
            "job_id": job_id,
            "state": JobState.SUBMITTED.value,
            "version": 0,
            "attempt": 1,
            "spec_json": json.dumps(dict(spec), sort_keys=True),
            "created_at": stamp,
            "updated_at": stamp,
        }
        event = _event_item(job_id, 0, None, JobState.SUBMITTED, stamp, 1, actor, None)
        await self._db.transact_write_items(
            [
                Put(self._jobs, item, F("job_id").does_not_exist()),
                Put(self._events, event, F("job_id").does_not_exist()),
            ]
        )
        return JobRecord.from_item(item)

    async def get(self, job_id: str) -> JobRecord:
        try:
            item = await self._db.get_item(self._jobs, {"job_id": job_id})
        except ItemNotFound as exc:
            raise JobNotFound(job_id) from exc
        if item is None:
            raise JobNotFound(job_id)
        return JobRecord.from_item(item)

    async def list_by_state(
        self, state: JobState, *, limit: int = 100, page_token: str | None = None
    ) -> tuple[list[JobRecord], str | None]:
        """One page of jobs in `state`, oldest update first, and the token of the next page."""
        start = json.loads(page_token) if page_token else None
        page = await self._db.query_single_page(
            self._jobs,
            HashKey("state", state.value),
            index=STATE_INDEX,
            limit=limit,
            start_key=start,
        )
        token = json.dumps(page.last_evaluated_key) if page.last_evaluated_key else None
        return [JobRecord.from_item(i) for i in page.items], token

    async def all_in_states(self, states: Collection[JobState]) -> list[JobRecord]:
        """Every job in any of `states` (all pages)."""
        found: list[JobRecord] = []
        for state in states:
            async for item in self._db.query(
                self._jobs, HashKey("state", state.value), index=STATE_INDEX
            ):
                found.append(JobRecord.from_item(item))
        return found

    async def events(self, job_id: str) -> list[JobEvent]:
        items = self._db.query(self._events, HashKey("job_id", job_id))
        return [JobEvent.from_item(item) async for item in items]

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
    ) -> JobRecord:
        """Move a job from one of `expected_states` at `expected_version` to `new_state`.

        `attempt` fences: the write fails unless the stored attempt equals it; `owner` likewise
        fences a master's write to the jobs it owns. A `placement` in `updates` is kept in
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
        stamp = utc_iso(now)
        change = _update_expression(new_state, stamp, new_attempt, updates or {}, removes)
        seq = expected_version + 1
        event_attempt = new_attempt if new_attempt is not None else (attempt or 0)
        # with one expected state the origin is known; otherwise the previous entry says it
        origin = next(iter(expected_states)) if len(expected_states) == 1 else None
        event = _event_item(job_id, seq, origin, new_state, stamp, event_attempt, actor, detail)
        if updates and "placement" in updates:
            event["placement"] = updates["placement"]
        try:
            await self._db.transact_write_items(
                [
                    Update(self._jobs, {"job_id": job_id}, change, condition),
                    Put(self._events, event, F("job_id").does_not_exist()),
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

    async def record_checkpoint(self, job_id: str, pointer: CheckpointPointer) -> None:
        """Make `pointer` the latest checkpoint, keeping the previous one.

        Fenced by the pointer's attempt; refuses to go backwards in (attempt, seq).
        """
        record = await self.get(job_id)
        current = record.checkpoint
        if current is not None and (current.attempt, current.seq) >= (pointer.attempt, pointer.seq):
            raise StaleWrite(job_id, "checkpoint is not newer than the stored one")
        condition = F("attempt").equals(pointer.attempt)
        if current is None:
            condition = condition & F("checkpoint").does_not_exist()
        else:
            condition = condition & F("checkpoint", "seq").equals(current.seq)
            condition = condition & F("checkpoint", "attempt").equals(current.attempt)
        change = F("checkpoint").set(pointer.to_item())
        if current is not None:
            change = change & F("checkpoint_prev").set(current.to_item())
        try:
            await self._db.update_item(self._jobs, {"job_id": job_id}, change, condition=condition)
        except ConditionalCheckFailed as exc:
            raise await self._stale(job_id, "attempt changed or a newer checkpoint landed") from exc

    async def drop_checkpoint(self, job_id: str, bad: CheckpointPointer) -> None:
        """Forget a checkpoint found corrupt, falling back to the previous one."""
        record = await self.get(job_id)
        if record.checkpoint != bad:
            return
        prev = record.checkpoint_prev
        change: UpdateExpression = (
            F("checkpoint").set(prev.to_item()) & F("checkpoint_prev").remove()
            if prev
            else F("checkpoint").remove()
        )
        condition = F("checkpoint", "seq").equals(bad.seq) & F("checkpoint", "attempt").equals(
            bad.attempt
        )
        try:
            await self._db.update_item(self._jobs, {"job_id": job_id}, change, condition=condition)
        except ConditionalCheckFailed:
            return  # someone else moved it on already

    async def _stale(self, job_id: str, reason: str) -> StaleWrite | JobNotFound:
        try:
            await self.get(job_id)
        except JobNotFound as missing:
            return missing
        return StaleWrite(job_id, reason)

    # --- misc: string keys to string values ---------------------------------------------

    async def misc_get(self, key: str) -> dict[str, Any] | None:
        try:
            item = await self._db.get_item(self._misc, {"key": key})
        except ItemNotFound:
            return None
        return item

    async def misc_put(
        self, key: str, value: Mapping[str, Any], *, condition: Condition | None = None
    ) -> bool:
        """Put a misc item; False when `condition` does not hold."""
        try:
            await self._db.put_item(self._misc, {"key": key, **value}, condition=condition)
        except ConditionalCheckFailed:
            return False
        return True

    async def misc_delete(self, key: str, *, condition: Condition | None = None) -> bool:
        try:
            await self._db.delete_item(self._misc, {"key": key}, condition=condition)
        except ConditionalCheckFailed:
            return False
        return True

    async def misc_scan_prefix(self, prefix: str) -> list[dict[str, Any]]:
        items = self._db.scan(self._misc, filter_expression=F("key").begins_with(prefix))
        return [item async for item in items]

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


def _sets(updates: Mapping[str, Any]) -> UpdateExpression:
    expression: UpdateExpression | None = None
    for name, value in updates.items():
        part = F(name).set(value)
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
        change = change & F(name).set(value)
    for name in removes:
        change = change & F(name).remove()
    return change


def _event_item(
    job_id: str,
    seq: int,
    from_state: JobState | None,
    to_state: JobState,
    stamp: str,
    attempt: int,
    actor: str,
    detail: str | None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "job_id": job_id,
        "seq": seq,
        "to_state": to_state.value,
        "at": stamp,
        "attempt": attempt,
        "actor": actor,
    }
    if from_state is not None:
        item["from_state"] = from_state.value
    if detail:
        item["detail"] = detail
    return item
