"""The masters' events queue on the AWS side, for the account set-up of `cbas bootstrap`: the
queue policy that lets only the deployment's events topic send to it, and the queue's
subscription to that topic. Each step reads first and writes only what differs.

Raw delivery stays off: the queue receives SNS's signed envelope, so the master verifies a
message from the queue exactly as it verifies an HTTP POST (signature, topic, duplicate), and
a message that anyone else put into the queue is dropped."""

from __future__ import annotations

import json

import structlog

from cbas_async.aws import Clients
from cbas_async.resource_policies import EVENTS_QUEUE_SID, events_queue_statement
from cbas_async.scope import Scope

log = structlog.get_logger(__name__)

_EMPTY_POLICY = '{"Version": "2012-10-17", "Statement": []}'


async def ensure_events_delivery(clients: Clients, scope: Scope, queue_url: str) -> str:
    """The queue's policy, then its subscription; returns the subscription's ARN."""
    await ensure_queue_policy(clients, scope, queue_url)
    return await ensure_subscription(clients, scope)


async def ensure_queue_policy(clients: Clients, scope: Scope, queue_url: str) -> None:
    """Our statement in the queue's policy; other statements are kept."""
    found = await clients.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["Policy"])
    current = json.loads(found.get("Attributes", {}).get("Policy") or _EMPTY_POLICY)
    wanted = events_queue_statement(scope)
    statements = current.get("Statement", [])
    if wanted in statements:
        return
    others = [s for s in statements if s.get("Sid") != EVENTS_QUEUE_SID]
    current["Statement"] = [*others, wanted]
    await clients.sqs.set_queue_attributes(
        QueueUrl=queue_url, Attributes={"Policy": json.dumps(current)}
    )
    log.info("queue_policy_written", queue=scope.events_queue)


async def ensure_subscription(clients: Clients, scope: Scope) -> str:
    """The queue subscribed to the events topic, with raw delivery off."""
    topic, queue = scope.topic_arn(scope.events_topic), scope.events_queue_arn
    arn = await _subscription(clients, topic, queue)
    if arn is None:
        made = await clients.sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=queue,
            Attributes={"RawMessageDelivery": "false"},
            ReturnSubscriptionArn=True,
        )
        log.info("events_queue_subscribed", topic=topic, queue=queue)
        return made["SubscriptionArn"]
    attributes = (await clients.sns.get_subscription_attributes(SubscriptionArn=arn))["Attributes"]
    if attributes.get("RawMessageDelivery", "false").lower() != "false":
        await clients.sns.set_subscription_attributes(
            SubscriptionArn=arn, AttributeName="RawMessageDelivery", AttributeValue="false"
        )
        log.info("raw_delivery_turned_off", subscription=arn)
    return arn


async def _subscription(clients: Clients, topic: str, queue: str) -> str | None:
    paginator = clients.sns.get_paginator("list_subscriptions_by_topic")
    async for page in paginator.paginate(TopicArn=topic):
        for sub in page.get("Subscriptions", []):
            if sub.get("Protocol") == "sqs" and sub.get("Endpoint") == queue:
                return sub.get("SubscriptionArn")
    return None
