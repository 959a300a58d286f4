"""`cbas doctor`: checks a deployment before money is spent. Each check is a small coroutine
returning a `Check` (passed or not, and a message saying what is wrong and how to fix it);
the checks themselves live in `doctor_checks.py` (what `cbas bootstrap` made) and
`doctor_launch.py` (the image, the instance types, a dry-run launch, the spot role).

Nothing here writes to AWS: every call is a read, and the launch is `DryRun=True`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import asdict

from aiodynamo.errors import AIODynamoError
from botocore.exceptions import BotoCoreError, ClientError

from cbas_async.account import AccountClients, account_scope, open_account_clients
from cbas_async.aws import Clients, open_clients
from cbas_async.bootstrap import BUCKET_KEY, misc_value
from cbas_async.doctor_checks import (
    RESOURCE_CHECKS,
    Check,
    CheckFn,
    Context,
    error_text,
    failed,
    passed,
)
from cbas_async.doctor_launch import LAUNCH_CHECKS
from cbas_async.errors import CbasError
from cbas_async.jobs import Resources
from cbas_async.settings import Settings

DEFAULT_INSTANCE_TYPES: tuple[str, ...] = tuple(Resources.model_fields["instance_types"].default)


async def run_check(name: str, check: CheckFn, context: Context) -> Check:
    """One check; an unexpected AWS or cbas error is its failure, not the doctor's crash."""
    try:
        return await check(context)
    except (ClientError, BotoCoreError, AIODynamoError, CbasError, LookupError) as exc:
        return failed(name, f"could not check: {error_text(exc)}")


async def credentials(accounts: AccountClients, settings: Settings) -> tuple[Check, str | None]:
    """sts:GetCallerIdentity: whose credentials, in which region; the account id or None."""
    try:
        identity = await accounts.sts.get_caller_identity()
    except (ClientError, BotoCoreError) as exc:
        return failed(
            "credentials",
            f"no working AWS credentials for {settings.region} ({error_text(exc)}): set "
            "AWS_PROFILE (or the AWS_* keys), and CBAS_REGION to the deployment's region",
        ), None
    return passed(
        "credentials", f"account {identity['Account']} as {identity['Arn']} in {settings.region}"
    ), identity["Account"]


async def diagnose(
    clients: Clients,
    accounts: AccountClients,
    settings: Settings,
    instance_types: Sequence[str],
) -> list[Check]:
    """Every check, in order; stops after the credentials when they do not work."""
    first, account = await credentials(accounts, settings)
    if account is None:
        return [first]
    try:
        bucket = await misc_value(clients, settings, BUCKET_KEY)
    except (ClientError, AIODynamoError, CbasError, LookupError):
        bucket = None  # the tables check says why
    context = Context(
        clients=clients,
        accounts=accounts,
        settings=settings,
        scope=await account_scope(accounts, settings, bucket),
        instance_types=tuple(instance_types),
    )
    checks = {**RESOURCE_CHECKS, **LAUNCH_CHECKS}
    async with asyncio.TaskGroup() as tg:  # independent reads: all at once
        tasks = [tg.create_task(run_check(name, fn, context)) for name, fn in checks.items()]
    return [first, *[task.result() for task in tasks]]


def render(checks: Sequence[Check], *, as_json: bool) -> str:
    if as_json:
        ok = all(c.ok for c in checks)
        return json.dumps({"ok": ok, "checks": [asdict(c) for c in checks]}, indent=2)
    lines = [f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.message}" for c in checks]
    bad = [c.name for c in checks if not c.ok]
    lines.append(f"{len(bad)} check(s) failed: {', '.join(bad)}" if bad else "all checks passed")
    return "\n".join(lines)


async def doctor_command(
    settings: Settings, *, instance_types: Sequence[str], as_json: bool = False
) -> int:
    """`cbas doctor [--instance-type T ...] [--json]`: 0 when every check passes, else 1."""
    async with open_clients(settings) as clients, open_account_clients(settings) as accounts:
        checks = await diagnose(clients, accounts, settings, instance_types)
    print(render(checks, as_json=as_json))
    return 0 if all(c.ok for c in checks) else 1
