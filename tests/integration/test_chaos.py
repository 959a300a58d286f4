"""A short seeded chaos run inside `make test`: worker kills, notices, a master kill, S3
and DynamoDB outages, replayed pings and spot warnings on the local cloud, and every
invariant must hold."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from chaos.runner import ChaosOptions, run_chaos

from tests.dmtcp_tools import HAVE_DMTCP

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SEED = 7


async def test_short_chaos_run_keeps_every_invariant(tmp_path: Path) -> None:
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        os.environ.pop(name)
    options = ChaosOptions(
        jobs=12,
        worker_kills=3,
        master_kills=1,
        interruptions=3,
        storage_outages=3,
        seed=SEED,
        home=tmp_path,
        concurrency=12,
        timeout_s=150,
    )
    report = await run_chaos(options)
    assert report.ok, report.render()
    for kind, planned in options.budgets.items():
        assert report.faults[kind] == planned, report.render()
    assert {"primes", "hello", "sleeper", "fails", "cancel"} <= set(report.kinds)
    if HAVE_DMTCP:  # CI unpacks DMTCP: its jobs must be in the mix and keep the invariants
        assert "dmtcp" in report.kinds, report.render()
    injected = report.faults["s3_errors_injected"] + report.faults["dynamodb_errors_injected"]
    assert injected > 0, report.render()
