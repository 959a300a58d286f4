"""The operator's policy against the calls of bootstrap and teardown of a deployment in two
regions, recorded live through the moto server: every call, in either region, is allowed
by the policy as bootstrap writes it and as `--print-policies` prints it."""

from __future__ import annotations

from pathlib import Path

from cbas_async.policies import policy
from cbas_async.scope import Scope
from cbas_async.settings import Settings
from cbas_async.setup_regions import bootstrap_everywhere
from cbas_async.teardown import teardown_regions
from tests.iam_eval import Call, allows
from tests.regions import HOME, WEST, Opened, a_wheel
from tests.test_policies_recorded import ACCOUNT, Recorder, _leave_work_behind


async def test_the_operator_may_make_every_call_in_every_region(
    two: Settings, everywhere: Opened, tmp_path: Path
) -> None:
    clients, accounts = everywhere
    recorders = {r: Recorder(Scope.of(two.in_region(r), account=ACCOUNT)) for r in (HOME, WEST)}
    seen = {r: recorders[r].wrap(clients[r]) for r in (HOME, WEST)}
    seen_accounts = {r: recorders[r].wrap_account(accounts[r]) for r in (HOME, WEST)}
    made = await bootstrap_everywhere(seen, seen_accounts, two, a_wheel(tmp_path))
    marks = {r: len(recorders[r].calls) for r in (HOME, WEST)}
    await _leave_work_behind(clients[WEST], made[WEST]["bucket"])
    for region, recorder in recorders.items():
        del recorder.calls[marks[region] :]  # the same clients: not the operator's calls
    await teardown_regions(seen, seen_accounts, two, force=True)
    calls = [call for recorder in recorders.values() for call in recorder.calls]
    buckets = {r: made[r]["bucket"] for r in (HOME, WEST)}
    written = policy("operator", Scope.of(two, account=ACCOUNT, buckets=buckets))
    printed = policy("operator", Scope.of(two))
    assert [c for c in calls if not (allows(written, c) and allows(printed, c))] == []
    west = [c for c in calls if WEST in c.resource or buckets[WEST] in c.resource]
    assert {"sqs:CreateQueue", "iam:CreateRole", "s3:CreateBucket", "events:PutRule"} <= {
        c.action for c in west
    }
    assert (
        Call("dynamodb:CreateTable", f"arn:aws:dynamodb:{WEST}:{ACCOUNT}:table/test-jobs")
        not in calls
    )
