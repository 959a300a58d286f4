"""vCPUs per type from EC2 and the vCPU quota from Service Quotas: against the moto server
(which knows instance types but no EC2 quota) and, for AWS's own answers, through botocore's
Stubber."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from aiobotocore.session import get_session
from aiobotocore.stub import AioStubber

from cbas_async.aws import Clients, open_service_quotas
from cbas_async.errors import TransientError
from cbas_async.fleet.quotas import (
    DEFAULT_MAX_VCPUS,
    SPOT_VCPU_QUOTA,
    VcpuCatalog,
    ceiling_vcpus,
    vcpu_quota,
)
from cbas_async.settings import Settings

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client


async def test_vcpus_come_from_ec2_once_per_type(ec2: EC2Client) -> None:
    catalog = VcpuCatalog(ec2=ec2)
    answer = {
        "InstanceTypes": [
            {
                "InstanceType": "m5.2xlarge",
                "VCpuInfo": {"DefaultVCpus": 8, "DefaultCores": 4, "DefaultThreadsPerCore": 2},
            }
        ]
    }
    with AioStubber(ec2) as stub:
        stub.add_response("describe_instance_types", answer, {"InstanceTypes": ["m5.2xlarge"]})
        assert await catalog.vcpus("m5.2xlarge") == 8
        assert await catalog.vcpus("m5.2xlarge") == 8  # cached: asked once
        stub.assert_no_pending_responses()


async def test_moto_answers_describe_instance_types(clients: Clients) -> None:
    catalog = VcpuCatalog(ec2=clients.ec2)
    assert await catalog.vcpus("c5.large") == 2
    assert await catalog.vcpus("r5.12xlarge") == 48


async def test_an_unknown_type_or_a_silent_ec2_is_transient(ec2: EC2Client) -> None:
    catalog = VcpuCatalog(ec2=ec2, known={"c5.large": 2})
    assert await catalog.vcpus("c5.large") == 2  # known: EC2 not asked
    with AioStubber(ec2) as stub:
        stub.add_response("describe_instance_types", {"InstanceTypes": []})
        stub.add_client_error(
            "describe_instance_types", "RequestLimitExceeded", http_status_code=503
        )
        with pytest.raises(TransientError, match="does not describe"):
            await catalog.vcpus("x9.mega")
        with pytest.raises(TransientError, match="RequestLimitExceeded"):
            await catalog.vcpus("x9.mega")


async def test_moto_knows_no_ec2_quota_so_the_documented_default_applies(
    settings: Settings,
) -> None:
    async with open_service_quotas(settings) as quotas:
        assert await vcpu_quota(quotas) is None
        assert await ceiling_vcpus(None, quotas) == DEFAULT_MAX_VCPUS
        assert await ceiling_vcpus(12, quotas) == 12  # CBAS_MAX_VCPUS wins


@pytest.fixture
async def quotas() -> Any:
    async with get_session().create_client(
        "service-quotas",
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="k",
    ) as client:
        yield client


async def test_the_spot_quota_is_the_ceiling_where_service_quotas_answers(quotas: Any) -> None:
    answer = {
        "Quota": {
            "ServiceCode": "ec2",
            "ServiceName": "Amazon Elastic Compute Cloud (Amazon EC2)",
            "QuotaArn": f"arn:aws:servicequotas:us-east-1:123456789012:ec2/{SPOT_VCPU_QUOTA}",
            "QuotaCode": SPOT_VCPU_QUOTA,
            "QuotaName": "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests",
            "Value": 64.0,
            "Unit": "None",
            "Adjustable": True,
            "GlobalQuota": False,
        }
    }
    expected = {"ServiceCode": "ec2", "QuotaCode": SPOT_VCPU_QUOTA}
    with AioStubber(quotas) as stub:
        stub.add_response("get_service_quota", answer, expected)
        stub.add_client_error(
            "get_service_quota",
            "AccessDeniedException",
            "User is not authorized to perform: servicequotas:GetServiceQuota",
            http_status_code=400,
        )
        assert await ceiling_vcpus(None, quotas) == 64
        assert await ceiling_vcpus(None, quotas) == DEFAULT_MAX_VCPUS
