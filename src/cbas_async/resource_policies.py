"""The resource policies the account set-up writes: the roles' trust, the events topic's
and the events queue's delivery statements, and the EventBridge rules' patterns. Pure."""

from __future__ import annotations

import json
from typing import Any

from cbas_async.scope import EVENT_RULES, Process, Scope

EVENTS_SID = "EventBridgeDelivers"
EVENTS_QUEUE_SID = "EventsTopicDelivers"


def trust_policy(service: str = "ec2.amazonaws.com") -> dict[str, Any]:
    """Who may assume a role: the instances that carry its instance profile."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }


def role_trust(scope: Scope, process: Process) -> dict[str, Any]:
    """A role's trust: EC2 for its instance profile, and for the worker role, the master
    role too where the master issues per-attempt session keys (`job_keys.py`)."""
    trust = trust_policy()
    if process == "worker" and scope.job_credentials:
        master = {"AWS": scope.role_arn("master")}
        trust["Statement"].append(
            {"Effect": "Allow", "Principal": master, "Action": "sts:AssumeRole"}
        )
    return trust


def events_topic_statement(scope: Scope) -> dict[str, Any]:
    """The topic policy statement that lets the deployment's rules publish EC2's events."""
    return {
        "Sid": EVENTS_SID,
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": scope.topic_arn(scope.events_topic),
        "Condition": {"ArnEquals": {"aws:SourceArn": [scope.rule_arn(s) for s in EVENT_RULES]}},
    }


def events_queue_statement(scope: Scope) -> dict[str, Any]:
    """The queue policy statement that lets the deployment's events topic send to it."""
    return {
        "Sid": EVENTS_QUEUE_SID,
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": scope.events_queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": scope.topic_arn(scope.events_topic)}},
    }


def event_pattern(detail_type: str) -> str:
    return json.dumps({"source": ["aws.ec2"], "detail-type": [detail_type]})
