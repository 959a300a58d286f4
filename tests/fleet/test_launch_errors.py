"""EC2's documented error payloads for a refused RunInstances, through botocore's Stubber:
each configuration or permission error is a `LaunchRefused` (a PermanentError, so the job is
failed with the message instead of retried) naming what to fix; capacity, quota and price
codes are their own classes; throttling and outages stay plain transient."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from aiobotocore.stub import AioStubber

from cbas_async.errors import PermanentError, TransientError
from cbas_async.fleet.launch_errors import (
    LaunchDeclined,
    LaunchRefused,
    NoCapacity,
    PriceTooLow,
    QuotaExceeded,
)
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


# EC2's documented payloads (API reference, "Error codes"), one per class
DECLINED = [
    (
        "InsufficientInstanceCapacity",
        500,
        "We currently do not have sufficient c5.large capacity in the Availability Zone you "
        "requested (us-east-1b). Our system will be working on provisioning additional "
        "capacity. You can currently get c5.large capacity by not specifying an Availability "
        "Zone in your request or choosing us-east-1a, us-east-1c, us-east-1d, us-east-1f.",
        NoCapacity,
    ),
    (
        "InsufficientCapacity",
        500,
        "There is not enough capacity to fulfill your import instance request.",
        NoCapacity,
    ),
    (
        "InsufficientHostCapacity",
        500,
        "There is not enough capacity to fulfill your Dedicated Host request.",
        NoCapacity,
    ),
    (
        "InsufficientReservedInstanceCapacity",
        500,
        "Not enough available Reserved instances to satisfy your minimum request.",
        NoCapacity,
    ),
    (
        "UnfulfillableCapacity",
        500,
        "At this time there isn't enough spare capacity to fulfill your request for Spot "
        "Instances.",
        NoCapacity,
    ),
    (
        "Unsupported",
        400,
        "Your requested instance type (c5.large) is not supported in your requested "
        "Availability Zone (us-east-1e). Please retry your request by not specifying an "
        "Availability Zone or choosing us-east-1a, us-east-1b, us-east-1c, us-east-1d.",
        NoCapacity,
    ),
    ("MaxSpotInstanceCountExceeded", 400, "Max spot instance count exceeded", QuotaExceeded),
    (
        "VcpuLimitExceeded",
        400,
        "You have requested more vCPU capacity than your current vCPU limit of 32 allows for "
        "the instance bucket that the specified instance type belongs to. Please visit "
        "http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.",
        QuotaExceeded,
    ),
    (
        "InstanceLimitExceeded",
        400,
        "Your quota allows for 0 more running instance(s). You requested at least 1.",
        QuotaExceeded,
    ),
    (
        "SpotMaxPriceTooLow",
        400,
        "Your Spot request price of 0.001 is lower than the minimum required Spot request "
        "fulfillment price of 0.0035.",
        PriceTooLow,
    ),
]


@pytest.mark.parametrize(("code", "status", "message", "kind"), DECLINED)
async def test_capacity_quota_and_price_codes_are_classified(
    ec2: EC2Client, code: str, status: int, message: str, kind: type[LaunchDeclined]
) -> None:
    error = await _launch_refused_with(ec2, code, status, message)
    assert type(error) is kind
    assert isinstance(error, TransientError)  # it passes; no instance was started
    assert isinstance(error, LaunchDeclined)
    assert error.code == code
    assert error.detail == message


@pytest.mark.parametrize("code", ["RequestLimitExceeded", "InternalError", "Unavailable"])
async def test_throttling_and_outages_stay_plain_transient(ec2: EC2Client, code: str) -> None:
    error = await _launch_refused_with(ec2, code, 503, "Request limit exceeded.")
    assert type(error) is TransientError
    assert code in str(error)
