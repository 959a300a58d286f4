"""The numbers behind the live-vCPU ceiling: the vCPUs of an instance type (EC2
DescribeInstanceTypes, cached) and the account's vCPU quota (Service Quotas).

`CBAS_MAX_VCPUS` unset: the ceiling is the spot quota "All Standard (A, C, D, H, I, M, R, T,
Z) Spot Instance Requests" (`L-34B43A08`, in vCPUs) where Service Quotas answers, else
`DEFAULT_MAX_VCPUS`. The on-demand quota (`L-1216C47A`) is read the same way; `ceiling_vcpus`
takes the spot one, which is what the workers use unless a job falls back to on demand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError

from cbas_async.errors import TransientError

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client

log = structlog.get_logger(__name__)

SPOT_VCPU_QUOTA = "L-34B43A08"
ONDEMAND_VCPU_QUOTA = "L-1216C47A"
# the ceiling when neither CBAS_MAX_VCPUS nor Service Quotas says: enough that the local
# cloud and a demo never meet it, low enough to bound a runaway submission's bill
DEFAULT_MAX_VCPUS = 256


class VcpuCatalog:
    """The default vCPUs of instance types, asked of EC2 once per type."""

    def __init__(self, *, ec2: EC2Client, known: dict[str, int] | None = None) -> None:
        self._ec2 = ec2
        self._vcpus: dict[str, int] = dict(known or {})

    async def vcpus(self, instance_type: str) -> int:
        """Raises `TransientError` when EC2 does not answer (the launch waits a tick)."""
        cached = self._vcpus.get(instance_type)
        if cached is not None:
            return cached
        try:
            answer = await self._ec2.describe_instance_types(InstanceTypes=[instance_type])  # type: ignore[list-item]
        except (ClientError, BotoCoreError) as exc:
            raise TransientError(f"vCPUs of {instance_type}: {exc}") from exc
        types = answer.get("InstanceTypes", [])
        if not types:
            raise TransientError(f"EC2 does not describe instance type {instance_type}")
        count = int(types[0].get("VCpuInfo", {}).get("DefaultVCpus", 1))
        self._vcpus[instance_type] = count
        return count


async def vcpu_quota(quotas: Any, code: str = SPOT_VCPU_QUOTA) -> int | None:
    """The account's quota `code` of EC2 in vCPUs, or None when Service Quotas does not
    answer (no permission, not offered, an endpoint without it)."""
    try:
        answer = await quotas.get_service_quota(ServiceCode="ec2", QuotaCode=code)
    except (ClientError, BotoCoreError) as exc:
        log.info("vcpu_quota_unknown", quota_code=code, error=str(exc))
        return None
    value = answer.get("Quota", {}).get("Value")
    return int(value) if isinstance(value, int | float) and value >= 1 else None


async def ceiling_vcpus(configured: int | None, quotas: Any | None) -> int:
    """CBAS_MAX_VCPUS if set, else the spot vCPU quota, else `DEFAULT_MAX_VCPUS`."""
    if configured is not None:
        return configured
    quota = await vcpu_quota(quotas) if quotas is not None else None
    return quota if quota is not None else DEFAULT_MAX_VCPUS
