"""The pieces the IAM policies are made of: `Grant` (one Allow statement), the policy
document, and the ARNs of a resource in every region of a deployment. Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cbas_async.scope import Scope

FIND_QUEUES = ("sqs:GetQueueUrl", "sqs:GetQueueAttributes")
Condition = Mapping[str, Mapping[str, str]]


@dataclass(frozen=True, slots=True)
class Grant:
    """One Allow statement."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: Condition | None = None

    def statement(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": list(self.actions),
            "Resource": list(self.resources),
        }
        if self.condition:
            out["Condition"] = {op: dict(keys) for op, keys in self.condition.items()}
        return out


def document(grants: list[Grant]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [g.statement() for g in grants]}


def actions(service: str, names: str) -> tuple[str, ...]:
    """`actions("sns", "Publish Subscribe")` is `("sns:Publish", "sns:Subscribe")`."""
    return tuple(f"{service}:{name}" for name in names.split())


def unique(arns: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(arns))


def everywhere(scope: Scope, arns: Callable[[Scope], Iterable[str]]) -> tuple[str, ...]:
    """`arns` of the scope in each region of the deployment, each once."""
    return unique(arn for region in scope.everywhere() for arn in arns(region))


def instance_arns(scope: Scope) -> tuple[str, ...]:
    return everywhere(scope, lambda s: [s.ec2_arn("instance/*")])
