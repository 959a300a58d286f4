"""EC2's documented error payloads for a refused RunInstances, through botocore's Stubber:
each configuration or permission error is a `LaunchRefused` (a PermanentError, so the job is
failed with the message instead of retried) naming what to fix; capacity stays transient."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from aiobotocore.stub import AioStubber

from cbas_async.errors import PermanentError, TransientError
from cbas_async.fleet.launch_errors import LaunchRefused
from cbas_async.fleet.launcher import Launcher
from tests.fleet.test_launch_request import CONFIG
from tests.master.test_launcher import _placement, _user_data

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client

ENCODED = "Encoded authorization failure message: 4b2Zx9-e0Q_L3xT0UqPbbZ6SmZ8P7kc"

REFUSALS = [
    (
        "InvalidAMIID.NotFound",
        400,
        "The image id '[ami-0123456789abcdef0]' does not exist",
        ["ami-0123456789abcdef0", "CBAS_WORKER_IMAGE_ID"],
    ),
    (
        "UnauthorizedOperation",
        403,
        f"You are not authorized to perform this operation. {ENCODED}",
        ["ec2:RunInstances", "iam:PassRole", "test-us-east-1-worker", "--print-policies"],
    ),
    (
        "InvalidParameterValue",
        400,
        "Value (test-us-east-1-worker) for parameter iamInstanceProfile.name is invalid. "
        "Invalid IAM Instance Profile name",
        ["instance profile test-us-east-1-worker", "cbas bootstrap"],
    ),
    (
        "VPCIdNotSpecified",
        400,
        "No default VPC for this user",
        ["no default VPC", "CBAS_SUBNET_ID", "sg-0a1b2c3d4e5f60718"],
    ),
]


async def _launch_refused_with(ec2: EC2Client, code: str, status: int, message: str) -> Exception:
    with AioStubber(ec2) as stub:
        stub.add_client_error(
            "run_instances",
            service_error_code=code,
            service_message=message,
            http_status_code=status,
        )
        launcher = Launcher(ec2=ec2, config=CONFIG, deployment="test")
        with pytest.raises((PermanentError, TransientError)) as raised:
            await launcher.launch(_placement(), _user_data("j-1"))
    return raised.value


@pytest.mark.parametrize(("code", "status", "message", "names"), REFUSALS)
async def test_a_refusal_is_permanent_and_says_what_to_fix(
    ec2: EC2Client, code: str, status: int, message: str, names: list[str]
) -> None:
    error = await _launch_refused_with(ec2, code, status, message)
    assert isinstance(error, LaunchRefused)
    assert error.code == code
    text = str(error)
    assert text.startswith(f"{code}: ")
    for name in names:
        assert name in text
    assert message in text  # EC2's own words (the encoded message decodes with STS)


async def test_another_invalid_value_keeps_ec2s_message(ec2: EC2Client) -> None:
    message = "The architecture 'x86_64' of the specified instance type does not match"
    error = await _launch_refused_with(ec2, "InvalidParameterValue", 400, message)
    assert isinstance(error, LaunchRefused)
    assert "instance profile" not in str(error)
    assert message in str(error)


@pytest.mark.parametrize(
    ("code", "status"),
    [("InsufficientInstanceCapacity", 500), ("RequestLimitExceeded", 503)],
)
async def test_capacity_and_throttling_stay_transient(
    ec2: EC2Client, code: str, status: int
) -> None:
    error = await _launch_refused_with(ec2, code, status, "We currently do not have capacity")
    assert type(error) is TransientError
    assert code in str(error)
