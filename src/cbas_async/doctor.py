"""`cbas doctor`: checks a deployment before money is spent. Each check is a small coroutine
returning a `Check` (passed or not, and a message saying what is wrong and how to fix it);
the checks themselves live in `doctor_checks.py` (what `cbas bootstrap` made) and
`doctor_launch.py` (the image, the instance types, a dry-run launch, the spot role).

In a deployment of several regions the tables and the spot role are checked once, every
other check in each region, its name saying which (`queues in us-west-2`).

Nothing here writes to AWS: every call is a read, and the launch is `DryRun=True`."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict

from aiodynamo.errors import AIODynamoError
from botocore.exceptions import BotoCoreError, ClientError

from cbas_async.account import AccountClients, account_scope
from cbas_async.aws import Clients, open_region_clients
from cbas_async.bootstrap import region_buckets
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
from cbas_async.setup_regions import open_region_accounts, region_settings

DEFAULT_INSTANCE_TYPES: tuple[str, ...] = tuple(Resources.model_fields["instance_types"].default)
ONCE = frozenset({"tables", "spot_role"})  # the home region's tables, the account's role


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
    """`diagnose_regions` of a deployment in one region (`settings.region`)."""
    region = settings.region
    return await diagnose_regions({region: clients}, {region: accounts}, settings, instance_types)


async def diagnose_regions(
    clients: Mapping[str, Clients],
    accounts: Mapping[str, AccountClients],
    settings: Settings,
    instance_types: Sequence[str],
) -> list[Check]:
    """Every check in every region (`clients` and `accounts` by region), in order; stops
    after the credentials when they do not work."""
    first, account = await credentials(accounts[settings.region], settings)
    if account is None:
        return [first]
    contexts = await _contexts(clients, accounts, settings, tuple(instance_types))
    planned = _plan(contexts, settings.home_region)
    async with asyncio.TaskGroup() as tg:  # independent reads: all at once
        tasks = [(n, tg.create_task(run_check(n, fn, ctx))) for n, fn, ctx in planned]
    return [first, *[dataclasses.replace(task.result(), name=n) for n, task in tasks]]


def _plan(contexts: Mapping[str, Context], home: str) -> list[tuple[str, CheckFn, Context]]:
    """(name, check, context) of every check to run: once, or in each region."""
    several = len(contexts) > 1
    planned: list[tuple[str, CheckFn, Context]] = []
    for name, check in {**RESOURCE_CHECKS, **LAUNCH_CHECKS}.items():
        if name in ONCE:
            planned.append((name, check, contexts[home]))
            continue
        for region, context in contexts.items():
            planned.append((f"{name} in {region}" if several else name, check, context))
    return planned


async def _contexts(
    clients: Mapping[str, Clients],
    accounts: Mapping[str, AccountClients],
    settings: Settings,
    instance_types: tuple[str, ...],
) -> dict[str, Context]:
    """Each region's context, whose scope knows every bucket recorded."""
    try:
        buckets = await region_buckets(clients[settings.home_region], settings)
    except (ClientError, AIODynamoError, CbasError, LookupError):
        buckets = {}  # the tables check says why
    contexts: dict[str, Context] = {}
    for region in settings.all_regions:
        here = region_settings(settings, region)
        contexts[region] = Context(
            clients=clients[region],
            accounts=accounts[region],
            settings=here,
            scope=await account_scope(accounts[region], here, buckets.get(region), buckets),
            instance_types=instance_types,
        )
    return contexts


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
    async with open_region_clients(settings) as clients, open_region_accounts(settings) as accounts:
        checks = await diagnose_regions(clients, accounts, settings, instance_types)
    print(render(checks, as_json=as_json))
    return 0 if all(c.ok for c in checks) else 1
