"""`cbas status --json`: the job as the API shows it, its placement's region included
(through the same `main` as the command, straight to the session's moto server)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from datetime import UTC, datetime

from cbas_async import cli
from cbas_async.aws import Clients
from cbas_async.bootstrap import bootstrap
from cbas_async.deployment import make_store
from cbas_async.fleet.launcher import LaunchRequest
from cbas_async.handlers.placement import job_placement
from cbas_async.jobs import parse_spec
from cbas_async.settings import Settings
from cbas_async.states import JobState

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


async def test_status_json_shows_the_placement_region(clients: Clients, settings: Settings) -> None:
    store = make_store(clients, await bootstrap(clients, settings))
    job = await store.create(parse_spec({"name": "r", "command": ["true"]}), now=NOW, actor="t")
    placement = LaunchRequest(
        region="us-west-2",
        zone="us-west-2b",
        instance_type="p3.2xlarge",
        max_price_usd_per_hour=1.0,
        checkpoint_interval_s=60.0,
    )
    await store.transition(
        job.job_id,
        {JobState.SUBMITTED},
        JobState.PENDING,
        job.version,
        now=NOW,
        actor="t",
        updates={"placement": job_placement(placement)},
    )
    env = {k: v for k, v in settings.to_env().items() if k != "CBAS_API_URL"}
    out = io.StringIO()

    def status() -> int:
        with contextlib.redirect_stdout(out):
            return cli.main(["status", job.job_id, "--json"], env)

    assert await asyncio.to_thread(status) == 0
    shown = json.loads(out.getvalue())
    assert shown["placement"]["region"] == "us-west-2"
    assert shown["placement"]["zone"] == "us-west-2b"
