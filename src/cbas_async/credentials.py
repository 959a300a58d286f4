"""DynamoDB signs with botocore's credentials: the one chain every other client uses.

aiodynamo's own chain knows environment keys, the shared credentials file and instance
metadata only. botocore's also resolves SSO, assume-role profiles (`source_profile` plus
`role_arn`), `credential_process` and web identity, and refreshes temporary keys before
they expire. `BotocoreCredentials` hands aiodynamo the keys of the same aiobotocore session
the S3, SQS, SNS and EC2 clients were made from, so all of them run as one identity.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiobotocore.session import AioSession
from aiodynamo.credentials import Credentials, Key, StaticCredentials
from aiodynamo.http.types import HttpImplementation

from cbas_async.settings import Settings


class BotocoreCredentials(Credentials):
    """An aiodynamo `Credentials` backed by an aiobotocore session's resolved credentials."""

    def __init__(self, session: AioSession) -> None:
        self._session = session
        self._resolving = asyncio.Lock()
        self._resolved: Any = None  # botocore credentials: static or refreshable

    async def get_key(self, http: HttpImplementation) -> Key | None:
        """The current keys; None when the chain finds nothing (aiodynamo then raises
        `NoCredentialsFound`). Refreshable keys are renewed by botocore ahead of expiry."""
        credentials = await self._credentials()
        if credentials is None:
            return None
        frozen = await credentials.get_frozen_credentials()
        return Key(id=frozen.access_key, secret=frozen.secret_key, token=frozen.token)

    async def _credentials(self) -> Any:
        # resolve once: concurrent first calls must not each run a credential_process
        async with self._resolving:
            if self._resolved is None:
                self._resolved = await self._session.get_credentials()
            return self._resolved

    def invalidate(self) -> bool:
        # botocore refreshes temporary keys before they expire, so an ExpiredToken answer
        # means the chain's keys are unusable: let aiodynamo raise it instead of looping
        return False

    def is_disabled(self) -> bool:
        return False


def dynamo_credentials(session: AioSession, settings: Settings) -> Credentials:
    """Settings' explicit keys when given (as the other clients get them), else the chain."""
    if settings.aws_access_key_id and settings.aws_secret_access_key:
        return StaticCredentials(
            Key(id=settings.aws_access_key_id, secret=settings.aws_secret_access_key)
        )
    return BotocoreCredentials(session)
