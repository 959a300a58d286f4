"""Opens the AWS clients (aiobotocore: S3, SQS, SNS, EC2; aiodynamo: DynamoDB) in one stack,
all on one aiobotocore session's credentials; and SSM on its own, for the one read at start."""

from __future__ import annotations

import decimal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import yarl
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from aiodynamo.client import Client as DynamoClient
from aiodynamo.http.aiohttp import AIOHTTP
from botocore.credentials import CredentialProvider

from cbas_async.credentials import dynamo_credentials
from cbas_async.retries import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, policy_for
from cbas_async.settings import Settings

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_sns import SNSClient
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_ssm import SSMClient


@dataclass(frozen=True, slots=True)
class Clients:
    """The open clients of one process; closed together when the stack unwinds."""

    s3: S3Client
    sqs: SQSClient
    sns: SNSClient
    ec2: EC2Client
    dynamo: DynamoClient
    http: aiohttp.ClientSession
    # RunInstances only: one try, no retry inside botocore. A refusal (EC2 answers
    # InsufficientInstanceCapacity with a 500, which botocore retries for most of a minute)
    # reaches the master at once; the master tries a failed launch again at its next tick,
    # under the same ClientToken.
    ec2_launch: EC2Client | None = None


@asynccontextmanager
async def open_clients(
    settings: Settings, *, provider: CredentialProvider | None = None
) -> AsyncIterator[Clients]:
    """Open every client with the settings' region, endpoint override and credentials, or
    those of `provider` (a worker's session keys) ahead of every other source."""
    session = get_session()
    if provider is not None:
        session.get_component("credential_provider").insert_before("env", provider)
        settings = settings.replace(aws_access_key_id=None, aws_secret_access_key=None)
    policy = policy_for(settings.aws_retry_s)  # tries and worst-case waits: retries.py
    kwargs = _client_kwargs(settings, policy.botocore_retries())
    async with AsyncExitStack() as stack:
        s3 = await stack.enter_async_context(session.create_client("s3", **kwargs))  # type: ignore[call-overload]
        sqs = await stack.enter_async_context(session.create_client("sqs", **kwargs))  # type: ignore[call-overload]
        sns = await stack.enter_async_context(session.create_client("sns", **kwargs))  # type: ignore[call-overload]
        ec2 = await stack.enter_async_context(session.create_client("ec2", **kwargs))  # type: ignore[call-overload]
        once = _client_kwargs(settings, {"mode": "standard", "total_max_attempts": 1})
        ec2_launch = await stack.enter_async_context(session.create_client("ec2", **once))  # type: ignore[call-overload]
        http = await stack.enter_async_context(aiohttp.ClientSession())
        dynamo = DynamoClient(
            AIOHTTP(http),
            dynamo_credentials(session, settings),
            region=settings.home_region,  # the tables live in the home region only
            endpoint=yarl.URL(settings.endpoint_url) if settings.endpoint_url else None,
            numeric_type=decimal.Decimal,
            throttle_config=policy.dynamo_retry(settings.aws_retry_s),
        )
        yield Clients(
            s3=s3, sqs=sqs, sns=sns, ec2=ec2, dynamo=dynamo, http=http, ec2_launch=ec2_launch
        )


@asynccontextmanager
async def open_region_clients(settings: Settings) -> AsyncIterator[dict[str, Clients]]:
    """Clients for each region of the deployment, by region (S3, SQS, SNS and EC2 there; the
    tables, as always, in the home region), closed together."""
    async with AsyncExitStack() as stack:
        yield {
            region: await stack.enter_async_context(open_clients(settings.in_region(region)))
            for region in settings.all_regions
        }


@asynccontextmanager
async def open_ssm(settings: Settings) -> AsyncIterator[SSMClient]:
    """SSM with the same region, endpoint and credentials; opened only when needed (the
    master's image look-up), so no other process holds a client it never uses."""
    kwargs = _client_kwargs(settings, policy_for(settings.aws_retry_s).botocore_retries())
    async with get_session().create_client("ssm", **kwargs) as ssm:  # type: ignore[call-overload]
        yield ssm


@asynccontextmanager
async def open_service_quotas(settings: Settings) -> AsyncIterator[Any]:
    """Service Quotas with the same region and credentials; opened once at the master's
    start to read the vCPU quota (`fleet/quotas.py`)."""
    kwargs = _client_kwargs(settings, policy_for(settings.aws_retry_s).botocore_retries())
    async with get_session().create_client("service-quotas", **kwargs) as quotas:  # type: ignore[call-overload]
        yield quotas


def client_kwargs(settings: Settings) -> dict[str, object]:
    """What `create_client` takes for any other service: region, endpoint, keys, retries."""
    return _client_kwargs(settings, policy_for(settings.aws_retry_s).botocore_retries())


def _client_kwargs(settings: Settings, retries: dict[str, object]) -> dict[str, object]:
    config = AioConfig(
        read_timeout=READ_TIMEOUT_S,
        connect_timeout=CONNECT_TIMEOUT_S,
        retries=retries,
        max_pool_connections=50,
    )
    kwargs: dict[str, object] = {"region_name": settings.region, "config": config}
    if settings.endpoint_url:
        kwargs["endpoint_url"] = settings.endpoint_url
    if settings.aws_access_key_id:
        kwargs["aws_access_key_id"] = settings.aws_access_key_id
        kwargs["aws_secret_access_key"] = settings.aws_secret_access_key
    return kwargs
