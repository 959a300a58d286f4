"""The operator's IAM policy: `cbas bootstrap` and `cbas teardown` in every region of the
deployment, `cbas token create | list | revoke`, and (`policy_checks.py`) `cbas doctor` and
`cbas image build`. Pure."""

from __future__ import annotations

from cbas_async.grants import FIND_QUEUES, Grant, actions, everywhere, instance_arns
from cbas_async.policy_checks import check_rows
from cbas_async.scope import DEPLOYMENT_TAG, EVENT_RULES, ROLES, Scope


def _operator_data(scope: Scope) -> list[Grant]:
    tables = ("dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:DeleteTable")
    items = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan")
    bucket = (
        "s3:CreateBucket",
        "s3:DeleteBucket",
        "s3:ListBucket",
        "s3:ListBucketMultipartUploads",
        "s3:GetLifecycleConfiguration",
        "s3:PutLifecycleConfiguration",
    )
    topics = actions("sns", "CreateTopic DeleteTopic GetTopicAttributes SetTopicAttributes")
    # the events queue's subscription
    topics += actions("sns", "ListSubscriptionsByTopic Subscribe")
    topics += actions("sns", "GetSubscriptionAttributes SetSubscriptionAttributes")
    queues = (*FIND_QUEUES, "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:SetQueueAttributes")
    buckets = everywhere(scope, lambda s: [s.bucket_arn])
    return [
        Grant("Tables", tables + items, scope.table_arns(indexes=True)),
        # `cbas token revoke`, and moving tokens older versions kept in `misc`
        Grant("Tokens", ("dynamodb:DeleteItem",), (scope.tokens_arn, scope.misc_arn)),
        Grant("Bucket", bucket, buckets),
        Grant(
            "EmptyBucket",
            ("s3:DeleteObject", "s3:AbortMultipartUpload"),
            tuple(f"{b}/*" for b in buckets),
        ),
        Grant(
            "UploadWheel",
            ("s3:GetObject", "s3:PutObject"),
            tuple(f"{b}/wheels/*" for b in buckets),
        ),
        Grant("Queues", queues, everywhere(scope, lambda s: s.queue_arns)),
        Grant("Topics", topics, everywhere(scope, lambda s: s.topic_arns)),
    ]


def _operator_iam(scope: Scope) -> list[Grant]:
    roles = actions("iam", "GetRole CreateRole DeleteRole TagRole UpdateAssumeRolePolicy")
    roles += actions("iam", "GetRolePolicy PutRolePolicy DeleteRolePolicy ListRolePolicies")
    roles += ("iam:PassRole",)  # AddRoleToInstanceProfile passes the role
    profiles = actions("iam", "GetInstanceProfile CreateInstanceProfile DeleteInstanceProfile")
    profiles += actions("iam", "TagInstanceProfile")
    profiles += actions("iam", "AddRoleToInstanceProfile RemoveRoleFromInstanceProfile")
    return [
        Grant("Roles", roles, everywhere(scope, lambda s: [s.role_arn(p) for p in ROLES])),
        Grant(
            "InstanceProfiles",
            profiles,
            everywhere(scope, lambda s: [s.profile_arn(p) for p in ROLES]),
        ),
    ]


def _operator_edges(scope: Scope) -> list[Grant]:
    ours = {"StringEquals": {f"aws:ResourceTag/{DEPLOYMENT_TAG}": scope.deployment}}
    rules = (
        "events:DescribeRule",
        "events:PutRule",
        "events:DeleteRule",
        "events:ListTargetsByRule",
        "events:PutTargets",
        "events:RemoveTargets",
    )
    return [
        Grant(
            "Look",
            actions("ec2", "DescribeVpcs DescribeSubnets DescribeSecurityGroups DescribeInstances"),
            ("*",),
        ),
        # `cbas teardown --force` stops the deployment's instances
        Grant("Terminate", ("ec2:TerminateInstances",), instance_arns(scope), ours),
        Grant("MakeGroup", ("ec2:CreateSecurityGroup",), ("*",)),
        Grant(
            "TagGroup",
            ("ec2:CreateTags",),
            _groups(scope),
            {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}},
        ),
        Grant(
            "OwnGroup",
            ("ec2:DeleteSecurityGroup", "ec2:RevokeSecurityGroupIngress"),
            _groups(scope),
            ours,
        ),
        Grant("Rules", rules, everywhere(scope, lambda s: [s.rule_arn(r) for r in EVENT_RULES])),
    ]


def _groups(scope: Scope) -> tuple[str, ...]:
    return everywhere(scope, lambda s: [s.ec2_arn("security-group/*")])


def operator_grants(scope: Scope) -> list[Grant]:
    """`cbas bootstrap` and `cbas teardown`, and `cbas token create | list | revoke`."""
    checks = [Grant(*row) for row in check_rows(scope)]  # `cbas doctor`, `cbas image build`
    return [*_operator_data(scope), *_operator_iam(scope), *_operator_edges(scope), *checks]
