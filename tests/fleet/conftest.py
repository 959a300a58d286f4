"""A real aiobotocore EC2 client for botocore's Stubber: nothing it sends leaves the process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
from aiobotocore.session import get_session

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client


@pytest.fixture
async def ec2() -> AsyncIterator[EC2Client]:
    async with get_session().create_client(
        "ec2", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="k"
    ) as client:
        yield client
