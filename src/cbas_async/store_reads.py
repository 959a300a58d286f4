"""Reading the `jobs` and `job-events` tables: one job, pages of jobs by state, a history.

The base of `store.JobStore`; it holds the client and the table names the others use.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import structlog
from aiodynamo.client import Client
from aiodynamo.errors import ItemNotFound
from aiodynamo.expressions import HashKey

from cbas_async.errors import InvalidSpec, JobNotFound, StaleWrite
from cbas_async.records import JobEvent, JobRecord
from cbas_async.states import JobState

log = structlog.get_logger(__name__)

STATE_INDEX = "by-state"


class JobReads:
    """Jobs and their history as records."""

    def __init__(
        self,
        *,
        dynamo: Client,
        jobs_table: str,
        events_table: str,
        misc_table: str,
        tokens_table: str = "",
    ):
        self._db = dynamo
        self._jobs = jobs_table
        self._events = events_table
        self._misc = misc_table
        self._tokens = tokens_table  # "" where the process has no business with tokens

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
        return _readable(page.items), token

    async def all_in_states(self, states: Collection[JobState]) -> list[JobRecord]:
        """Every job in any of `states` (all pages)."""
        items = []
        for state in states:
            query = self._db.query(self._jobs, HashKey("state", state.value), index=STATE_INDEX)
            items += [item async for item in query]
        return _readable(items)

    async def events(self, job_id: str) -> list[JobEvent]:
        items = self._db.query(self._events, HashKey("job_id", job_id))
        return [JobEvent.from_item(item) async for item in items]

    async def _stale(self, job_id: str, reason: str) -> StaleWrite | JobNotFound:
        """Why a conditional write failed: the job is gone, or it changed meanwhile."""
        try:
            await self.get(job_id)
        except JobNotFound as missing:
            return missing
        return StaleWrite(job_id, reason)


def _readable(items: Iterable[Mapping[str, Any]]) -> list[JobRecord]:
    """The jobs of `items`, leaving out (and logging) any whose stored spec no longer
    validates, so one such job cannot stop the supervisor or a listing; reading it by id
    still raises `InvalidSpec`."""
    jobs = []
    for item in items:
        try:
            jobs.append(JobRecord.from_item(item))
        except InvalidSpec as exc:
            log.error("job_unreadable", job_id=item.get("job_id"), error=str(exc)[:300])
    return jobs
