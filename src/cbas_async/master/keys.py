"""The master's issuer of per-attempt session keys (`job_keys.KeyKeeper`), when
`CBAS_JOB_CREDENTIALS` is on: STS for AssumeRole, and the worker role's id and ARN, read
once from IAM at start."""

from __future__ import annotations

from contextlib import AsyncExitStack

from aiobotocore.session import get_session

from cbas_async.aws import Clients, client_kwargs
from cbas_async.bootstrap import Resources
from cbas_async.clock import Clock
from cbas_async.job_credentials import JobCredentialIssuer
from cbas_async.job_keys import KeyKeeper
from cbas_async.scope import Scope
from cbas_async.settings import Settings


async def open_keeper(
    stack: AsyncExitStack, clients: Clients, settings: Settings, resources: Resources, clock: Clock
) -> KeyKeeper | None:
    """The keeper, its STS client closed with `stack`; None when the setting is off."""
    if not settings.job_credentials:
        return None
    session = get_session()
    kwargs = client_kwargs(settings)
    async with session.create_client("iam", **kwargs) as iam:  # type: ignore[call-overload]
        role = (await iam.get_role(RoleName=Scope.of(settings).role_name("worker")))["Role"]
    sts = await stack.enter_async_context(session.create_client("sts", **kwargs))  # type: ignore[call-overload]
    account = role["Arn"].split(":")[4]
    scope = Scope.of(settings, account=account, bucket=resources.bucket)
    issuer = JobCredentialIssuer(
        sts=sts, role_arn=role["Arn"], scope=scope, home_bucket=resources.files_bucket
    )
    return KeyKeeper(
        issuer=issuer,
        dynamo=clients.dynamo,
        table=settings.credentials_table,
        role_id=role["RoleId"],
        clock=clock,
    )
