"""The operator's permissions for `cbas doctor` (reads, and a launch with `DryRun=True`) and
`cbas image build` (a launch and CreateImage), as rows that `policies.operator_grants`
turns into grants: (sid, actions, resources, condition)."""

from __future__ import annotations

from cbas_async.scope import Scope
from cbas_async.spot_role import SPOT_ROLE, SPOT_SERVICE

Row = tuple[str, tuple[str, ...], tuple[str, ...], dict[str, dict[str, str]] | None]


def check_rows(scope: Scope) -> list[Row]:
    looks = (
        "ec2:DescribeImages",
        "ec2:DescribeInstanceTypes",
        "ec2:DescribeSubnets",
        "ssm:GetParameters",
    )
    # the role's ARN has the path aws-service-role/spot.amazonaws.com/
    spot_role = f"arn:{scope.partition}:iam::{scope.account}:role/*{SPOT_ROLE}"
    made_for_spot = {"StringEquals": {"iam:AWSServiceName": SPOT_SERVICE}}
    tagging = {"StringEquals": {"ec2:CreateAction": "RunInstances"}}
    return [
        ("Check", looks, ("*",), None),
        ("CheckSpotRole", ("iam:GetRole",), (spot_role,), None),
        ("MakeSpotRole", ("iam:CreateServiceLinkedRole",), (spot_role,), made_for_spot),
        ("BuildImage", ("ec2:RunInstances", "ec2:CreateImage"), ("*",), None),
        ("TagBuild", ("ec2:CreateTags",), ("*",), tagging),
    ]
