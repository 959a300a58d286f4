"""The EC2 that moto emulates, read in process for the fault gate: the region's zones,
each instance type's vCPUs (moto's instance type data) and the live vCPUs per market; and
the instance types EC2 still offers that moto's data no longer lists, added to it."""

from __future__ import annotations

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ec2.exceptions import InvalidSubnetIdError
from moto.ec2.models import EC2Backend, ec2_backends
from moto.ec2.models.instance_types import INSTANCE_TYPES, InstanceType, InstanceTypeBackend

LIVE_STATES = frozenset({"pending", "running"})
# the GPU types the published traces were collected on (`spot.availability`), which moto's
# data dropped: vCPUs, memory (MiB), GPUs, GPU name, each GPU's memory (MiB)
MISSING_TYPES = {
    "p3.2xlarge": (8, 62464, 1, "V100", 16384),
    "p3.16xlarge": (64, 499712, 8, "V100", 16384),
    "p2.xlarge": (4, 62464, 1, "K80", 12288),
    "p2.8xlarge": (32, 499712, 8, "K80", 12288),
}


def add_missing_instance_types() -> None:
    """Make moto describe (DescribeInstanceTypes) the types of `MISSING_TYPES`; idempotent."""
    for name, (vcpus, memory_mib, gpus, gpu, gpu_mib) in MISSING_TYPES.items():
        if name in INSTANCE_TYPES:
            continue
        INSTANCE_TYPES[name] = {
            "InstanceType": name,
            "CurrentGeneration": True,
            "VCpuInfo": {"DefaultVCpus": vcpus, "DefaultCores": vcpus // 2},
            "MemoryInfo": {"SizeInMiB": memory_mib},
            "GpuInfo": {
                "Gpus": [
                    {
                        "Count": gpus,
                        "Manufacturer": "NVIDIA",
                        "Name": gpu,
                        "MemoryInfo": {"SizeInMiB": gpu_mib},
                    }
                ],
                "TotalGpuMemoryInMiB": gpus * gpu_mib,
            },
            "ProcessorInfo": {"SupportedArchitectures": ["x86_64"]},
            "SupportedUsageClasses": ["on-demand", "spot"],
            "SupportedRootDeviceTypes": ["ebs"],
            "Hypervisor": "xen",
        }
        InstanceTypeBackend.instance_types.append(InstanceType(name))


class MotoEc2View:
    """Reads moto's EC2 backend of the local account (moto's default one)."""

    def __init__(self, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        self._account_id = account_id

    def zones(self, region: str) -> list[str]:
        """The region's zones; none for a region EC2 does not have."""
        try:
            backend = self._backend(region)
        except KeyError:
            return []
        return [z.name for z in backend.describe_availability_zones()]

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
