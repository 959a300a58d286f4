"""The EC2 that moto emulates, read in process for the fault gate: the region's zones,
each instance type's vCPUs (moto's instance type data) and the live vCPUs per market."""

from __future__ import annotations

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ec2.exceptions import InvalidSubnetIdError
from moto.ec2.models import EC2Backend, ec2_backends
from moto.ec2.models.instance_types import INSTANCE_TYPES

LIVE_STATES = frozenset({"pending", "running"})


class MotoEc2View:
    """Reads moto's EC2 backend of the local account (moto's default one)."""

    def __init__(self, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        self._account_id = account_id

    def zones(self, region: str) -> list[str]:
        return [z.name for z in self._backend(region).describe_availability_zones()]

    def vcpus(self, instance_type: str) -> int | None:
        info = INSTANCE_TYPES.get(instance_type)
        return None if info is None else int(info["VCpuInfo"]["DefaultVCpus"])

    def live_vcpus(self, region: str, market: str) -> int:
        """vCPUs of the pending and running instances of `market` ("spot" or "on-demand")."""
        total = 0
        for instance in self._backend(region).all_instances():
            lifecycle = "spot" if instance.lifecycle == "spot" else "on-demand"
            if instance.state in LIVE_STATES and lifecycle == market:
                total += self.vcpus(instance.instance_type) or 1
        return total

    def subnet_zone(self, region: str, subnet_id: str) -> str | None:
        try:
            return str(self._backend(region).get_subnet(subnet_id).availability_zone)
        except InvalidSubnetIdError:
            return None

    def _backend(self, region: str) -> EC2Backend:
        return ec2_backends[self._account_id][region]
