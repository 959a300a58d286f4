"""What a refused RunInstances means. `launch_error` sorts EC2's error into one class:

- capacity (`NoCapacity`): this pool (zone x type x market) has none now; try another pool;
- quota (`QuotaExceeded`): the account may run no more of this market now;
- price (`PriceTooLow`): not at this max price;
- configuration or permission (`LaunchRefused`): no retry fixes it; the message names what to;
- anything else (throttling, outages): a plain `TransientError`, worth another try.

The first four started no instance (EC2 refused the request as a whole), so the attempt is
not spent; a plain `TransientError` may hide a launch that landed (a timeout)."""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from cbas_async.errors import PermanentError, TransientError


@dataclass(frozen=True, slots=True, kw_only=True)
class LaunchContext:
    """What the request named, for the messages."""

    image_id: str
    instance_profile: str
    security_group_id: str
    subnet_id: str | None
    disk_gib: int


class LaunchRefused(PermanentError):
    """EC2 refused the request itself (configuration or permission); `code` is EC2's error
    code, `fix` what to change."""

    def __init__(self, code: str, fix: str, detail: str) -> None:
        super().__init__(f"{code}: {fix} (EC2 said: {detail})" if detail else f"{code}: {fix}")
        self.code = code
        self.fix = fix


class LaunchDeclined(TransientError):
    """EC2 started no instance for a reason that passes (capacity, quota, price)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


class NoCapacity(LaunchDeclined):
    """The pool (zone x type x market) has no capacity now, or does not offer the type."""


class QuotaExceeded(LaunchDeclined):
    """The account's instance or vCPU quota for this market is used up."""


class PriceTooLow(LaunchDeclined):
    """The max price is below the spot price (or the minimum EC2 accepts)."""


CAPACITY_CODES = frozenset(
    {
        "InsufficientInstanceCapacity",
        "InsufficientCapacity",
        "InsufficientHostCapacity",
        "InsufficientReservedInstanceCapacity",
        "UnfulfillableCapacity",  # spot: not enough spare capacity for the request
        "Unsupported",  # the type is not offered in this zone (or market)
    }
)
QUOTA_CODES = frozenset(
    {"MaxSpotInstanceCountExceeded", "VcpuLimitExceeded", "InstanceLimitExceeded"}
)
PRICE_CODES = frozenset({"SpotMaxPriceTooLow"})


_IMAGE = (
    "the worker image {image_id} does not exist in this region or is not shared with this "
    "account: set CBAS_WORKER_IMAGE_ID to an image of this region, or unset it to use the "
    "current Amazon Linux 2023 image"
)
_FIXES = {
    "InvalidAMIID.NotFound": _IMAGE,
    "InvalidAMIID.Malformed": _IMAGE,
    "InvalidAMIID.Unavailable": _IMAGE,
    "UnauthorizedOperation": (
        "the master's credentials may not launch workers: its policy needs ec2:RunInstances, "
        "ec2:CreateTags and iam:PassRole on the role of instance profile {instance_profile} "
        "(`cbas bootstrap --print-policies` prints it; `aws sts decode-authorization-message` "
        "decodes EC2's message)"
    ),
    "VPCIdNotSpecified": (
        "this region has no default VPC: set CBAS_SUBNET_ID to the subnet the workers should "
        "use (in the VPC of security group {security_group_id})"
    ),
    "InvalidSubnetID.NotFound": (
        "subnet {subnet_id} does not exist in this region: correct or unset CBAS_SUBNET_ID"
    ),
    "InvalidGroup.NotFound": (
        "security group {security_group_id} no longer exists: run `cbas bootstrap`, then "
        "restart the master"
    ),
    "InvalidBlockDeviceMapping": (
        "the root volume of {disk_gib} GiB does not fit the image {image_id}: raise the spec's "
        "resources.disk_gib to at least the image's snapshot size"
    ),
    "InvalidParameterCombination": "EC2 rejects this combination of launch parameters",
    "InvalidParameter": "EC2 rejects a launch parameter",
    "InvalidParameterValue": "EC2 rejects a launch parameter value",
}
_PROFILE = (
    "the worker instance profile {instance_profile} does not exist or has no role: run `cbas "
    "bootstrap` (IAM takes a few seconds to show a new profile to EC2)"
)


def launch_error(exc: ClientError, context: LaunchContext) -> PermanentError | TransientError:
    """EC2's refusal as the error to raise from `exc`, of one of the classes above."""
    error = exc.response.get("Error", {})
    code, detail = str(error.get("Code", "")), str(error.get("Message", ""))
    declined = _declined(code, detail)
    if declined is not None:
        return declined
    fix = _FIXES.get(code)
    if code == "InvalidParameterValue" and "iaminstanceprofile" in detail.lower():
        fix = _PROFILE
    if fix is None:
        return TransientError(f"launch failed: {code}: {detail}" if detail else code)
    return LaunchRefused(code, fix.format(**_fields(context)), detail)


def _fields(context: LaunchContext) -> dict[str, object]:
    return {
        "image_id": context.image_id,
        "instance_profile": context.instance_profile,
        "security_group_id": context.security_group_id,
        "subnet_id": context.subnet_id,
        "disk_gib": context.disk_gib,
    }


def _declined(code: str, detail: str) -> LaunchDeclined | None:
    if code in CAPACITY_CODES:
        return NoCapacity(code, detail)
    if code in QUOTA_CODES:
        return QuotaExceeded(code, detail)
    if code in PRICE_CODES:
        return PriceTooLow(code, detail)
    return None
