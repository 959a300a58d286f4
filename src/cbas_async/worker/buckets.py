"""The worker's two buckets: its own region's, which holds the checkpoints its attempt takes
(and the copy the master made of the one it resumes from), and the home region's, which
holds the job's inputs, outputs and logs. Each is reached by an S3 client of its region.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiobotocore.session import get_session
from botocore.credentials import CredentialProvider

from cbas_async.aws import client_kwargs
from cbas_async.messages import UserData
from cbas_async.sandbox import Sandbox
from cbas_async.settings import Settings

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client


@dataclass(frozen=True, slots=True)
class Buckets:
    """Where this attempt's checkpoints go, and where the job's files are."""

    checkpoints: Sandbox
    files: Sandbox


@asynccontextmanager
async def open_buckets(
    settings: Settings,
    data: UserData,
    s3: S3Client,
    *,
    provider: CredentialProvider | None = None,
) -> AsyncIterator[Buckets]:
    """`s3` (a client of the worker's region) for its bucket; for the home bucket the same
    client when the home region is this one, else a client of the home region on the same
    credentials (`provider`: the attempt's session keys), closed on exit."""
    checkpoints = Sandbox(s3=s3, bucket=data.bucket)
    if data.home_region == data.region:
        yield Buckets(checkpoints=checkpoints, files=Sandbox(s3=s3, bucket=data.home_bucket))
        return
    async with _home_s3(settings.in_region(data.home_region), provider) as home:
        yield Buckets(checkpoints=checkpoints, files=Sandbox(s3=home, bucket=data.home_bucket))


@asynccontextmanager
async def _home_s3(
    settings: Settings, provider: CredentialProvider | None
) -> AsyncIterator[S3Client]:
    session = get_session()
    if provider is not None:  # as `aws.open_clients` does: the session keys go first
        session.get_component("credential_provider").insert_before("env", provider)
        settings = settings.replace(aws_access_key_id=None, aws_secret_access_key=None)
    async with session.create_client("s3", **client_kwargs(settings)) as s3:  # type: ignore[call-overload]
        yield s3
