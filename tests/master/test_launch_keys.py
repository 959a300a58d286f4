"""The scheduler hands a launched attempt its session keys: once the instance id is known
the keeper writes its item and the user data names the table; a re-queue ends the attempt
and its item goes (against moto, fake clock and a fake STS answer)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiodynamo.errors import ItemNotFound

from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources
from cbas_async.fleet.launcher import Launcher
from cbas_async.handlers.placement import first_allowed_type
from cbas_async.job_credentials import JobCredentials
from cbas_async.job_keys import KeyKeeper, item_key
from cbas_async.master.wiring import make_job_steps
from cbas_async.settings import Settings
from cbas_async.states import JobState
from cbas_async.store import JobStore
from tests.master.test_capacity import _pending
from tests.master.test_recovery import Parts


class _Issuer:
    """What STS would answer, without STS."""

    def __init__(self, parts: Parts) -> None:
        self._clock = parts.clock

    async def issue(self, job_id: str, attempt: int) -> JobCredentials:
        expires = self._clock.now() + timedelta(hours=1)
        return JobCredentials(
            job_id=job_id,
            attempt=attempt,
            access_key_id=f"ASIA{attempt}",
            secret_access_key="s",
            session_token="t",
            expires_at=expires,
        )


async def test_a_launched_attempt_gets_its_keys_and_a_requeued_one_loses_them(
    store: JobStore,
    launcher: Launcher,
    resources: Resources,
    master_settings: Settings,
    clients: Clients,
) -> None:
    parts = Parts(store, launcher, resources, master_settings)
    keeper = KeyKeeper(
        issuer=_Issuer(parts),  # type: ignore[arg-type]
        dynamo=clients.dynamo,
        table=master_settings.credentials_table,
        role_id="AROAWORKER",
        clock=parts.clock,
    )
    scheduler = make_job_steps(
        master_settings,
        mover=parts.mover,
        launcher=launcher,
        placer=first_allowed_type("us-east-1"),
        tracker=parts.tracker,
        resources=resources,
        clock=parts.clock,
        keys=keeper,
    ).scheduler
    job_id = await _pending(parts, "c5.large")
    await scheduler.place(await store.get(job_id))
    job = await store.get(job_id)
    assert job.state is JobState.LAUNCHING
    assert job.placement is not None
    assert job.placement.instance_id is not None
    key = {"key": item_key("AROAWORKER", job.placement.instance_id)}
    item = await clients.dynamo.get_item(master_settings.credentials_table, key)
    assert (item["job_id"], item["attempt"], item["access_key_id"]) == (job_id, 1, "ASIA1")
    placement = first_allowed_type("us-east-1")(job)
    assert placement is not None
    data = scheduler.user_data(job, placement)
    assert data.credentials_table == master_settings.credentials_table  # the worker reads it
    interrupted = await store.transition(
        job_id,
        {JobState.LAUNCHING},
        JobState.INTERRUPTED,
        job.version,
        now=parts.clock.now(),
        actor="t",
    )
    assert interrupted is not None
    await scheduler.requeue(interrupted)
    await keeper.renew_once()
    with pytest.raises(ItemNotFound):  # the re-queued attempt's keys are gone
        await clients.dynamo.get_item(master_settings.credentials_table, key)
