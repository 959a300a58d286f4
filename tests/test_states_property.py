"""Property: random transition sequences never leave the state machine, and version counts
the transitions that landed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cbas_async.aws import Clients
from cbas_async.bootstrap import bootstrap
from cbas_async.errors import IllegalTransition
from cbas_async.jobs import parse_spec
from cbas_async.settings import Settings
from cbas_async.states import JobState, is_legal, is_legal_path
from cbas_async.store import JobStore

NOW = datetime(2026, 11, 27, tzinfo=UTC)


@pytest.fixture
async def store(clients: Clients, settings: Settings) -> JobStore:
    await bootstrap(clients, settings)
    return JobStore(
        dynamo=clients.dynamo,
        jobs_table=settings.jobs_table,
        events_table=settings.events_table,
        misc_table=settings.misc_table,
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(targets=st.lists(st.sampled_from(list(JobState)), max_size=12))
async def test_random_transitions_stay_legal(store: JobStore, targets: list[JobState]) -> None:
    record = await store.create(
        parse_spec({"name": "p", "command": ["true"]}), now=NOW, actor="prop"
    )
    landed = 0
    for target in targets:
        if is_legal(record.state, target):
            record = await store.transition(
                record.job_id, {record.state}, target, record.version, now=NOW, actor="prop"
            )
            landed += 1
        else:
            with pytest.raises(IllegalTransition):
                await store.transition(
                    record.job_id, {record.state}, target, record.version, now=NOW, actor="prop"
                )
    stored = await store.get(record.job_id)
    assert stored.version == landed
    history = [e.to_state for e in await store.events(record.job_id)]
    assert len(history) == landed + 1
    assert is_legal_path(history)
    assert history[-1] is stored.state
