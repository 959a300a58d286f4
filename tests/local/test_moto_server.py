"""The local moto server keeps every DynamoDB write when transactions race (moto alone
loses some: a failed transaction restores a stale copy of the whole table)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from cbas_async.aws import Clients
from cbas_async.bootstrap import bootstrap
from cbas_async.errors import StaleWrite
from cbas_async.jobs import parse_spec
from cbas_async.settings import Settings
from cbas_async.states import JobState
from cbas_async.store import JobStore

NOW = datetime(2026, 11, 27, tzinfo=UTC)


async def test_failed_transactions_do_not_undo_concurrent_writes(
    clients: Clients, settings: Settings
) -> None:
    await bootstrap(clients, settings)
    store = JobStore(
        dynamo=clients.dynamo,
        jobs_table=settings.jobs_table,
        events_table=settings.events_table,
        misc_table=settings.misc_table,
    )
    ids = [
        (
            await store.create(
                parse_spec({"name": f"n{n}", "command": ["true"]}), now=NOW, actor="t"
            )
        ).job_id
        for n in range(20)
    ]

    async def move(job_id: str, version: int) -> None:
        with contextlib.suppress(StaleWrite):  # the stale ones (version 7) must fail
            await store.transition(
                job_id, {JobState.SUBMITTED}, JobState.PENDING, version, now=NOW, actor="t"
            )

    versions = [7, 7, 0, 7, 7, 7]  # one good write among failing transactions
    await asyncio.gather(*[move(job_id, v) for job_id in ids for v in versions])
    states = [(await store.get(job_id)).state for job_id in ids]
    assert states == [JobState.PENDING] * len(ids)
