"""The master's /sns and /healthz through a real HTTP server on 127.0.0.1 (port 0)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from cbas_async.bus import Bus
from cbas_async.clock import parse_utc
from cbas_async.events import Event, InstanceStateChanged, InterruptionWarned
from cbas_async.local.interrupter import spot_warning
from cbas_async.master.health import Health
from cbas_async.master.http import build_app
from cbas_async.sns import SnsVerifier
from cbas_async.sns_certs import CertificateCache
from tests.fakes import FakeClock
from tests.sns_signing import CERT_URL, REGION, TOPIC_ARN, CertFetcher, SnsSigner, to_body

WARNING = json.dumps(spot_warning("i-0abc", REGION, "2026-11-27T12:00:00Z"))
STATE_CHANGE = json.dumps(  # as AWS documents it
    {
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "123456789012",
        "time": "2019-11-11T21:29:54Z",
        "region": "us-east-1",
        "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
        "detail": {"instance-id": "i-abcd1111", "state": "terminated"},
    }
)


@dataclass
class Endpoint:
    client: TestClient[aiohttp.web.Request, aiohttp.web.Application]
    published: list[Event]
    signer: SnsSigner
    health: Health


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    clock = FakeClock()
    signer = SnsSigner.create(clock=clock)
    bus = Bus()
    published: list[Event] = []

    async def publish(event: Event) -> None:  # record instead of queueing
        published.append(event)

    bus.publish = publish  # type: ignore[method-assign]
    verifier = SnsVerifier(
        certificates=CertificateCache(fetch=CertFetcher.serving(signer), clock=clock),
        region=REGION,
        enabled=True,
        clock=clock,
    )
    health = Health(clock=clock)
    async with aiohttp.ClientSession() as session:
        app = build_app(
            health=health,
            bus=bus,
            verifier=verifier,
            session=session,
            topics=frozenset({TOPIC_ARN}),
            max_body_bytes=16 * 1024,
            region=REGION,
            verify=True,
        )
        async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
            yield Endpoint(client, published, signer, health)


async def post(endpoint: Endpoint, body: bytes) -> int:
    response = await endpoint.client.post("/sns", data=body)
    return response.status


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("subject", [None, "spot"])
async def test_genuine_warning_is_published(
    endpoint: Endpoint, version: str, subject: str | None
) -> None:
    message = endpoint.signer.notification(message=WARNING, version=version, subject=subject)
    assert await post(endpoint, to_body(message)) == 200
    assert len(endpoint.published) == 1
    event = endpoint.published[0]
    assert isinstance(event, InterruptionWarned)
    assert event.instance_id == "i-0abc"


def _tamper(message: dict[str, object], key: str, value: object) -> bytes:
    forged = dict(message)
    forged[key] = value
    return to_body(forged)


@pytest.mark.parametrize(
    ("key", "value", "status"),
    [
        ("Message", WARNING.replace("i-0abc", "i-0evil"), 403),
        ("Subject", "added", 403),
        ("Timestamp", "2026-01-01T00:00:01.000Z", 403),
        ("TopicArn", "arn:aws:sns:us-east-1:123456789012:other", 403),
        (
            "SigningCertURL",
            "https://sns.us-east-1.amazonaws.com.evil.com/SimpleNotificationService-1.pem",
            403,
        ),
        ("SigningCertURL", CERT_URL.replace("https", "http"), 403),
        ("Type", "Nonsense", 400),  # not an SNS message at all: malformed
        ("Signature", "AAAA", 403),
        ("SignatureVersion", "3", 403),
    ],
)
async def test_forged_messages_are_refused_and_publish_nothing(
    endpoint: Endpoint, key: str, value: object, status: int
) -> None:
    message = endpoint.signer.notification(message=WARNING)
    assert await post(endpoint, _tamper(message, key, value)) == status
    assert endpoint.published == []


async def test_unsigned_bodies_are_forbidden_and_garbage_is_malformed(endpoint: Endpoint) -> None:
    message = endpoint.signer.notification(message=WARNING)
    del message["Signature"]
    assert await post(endpoint, to_body(message)) == 403
    assert await post(endpoint, b"not json") == 400  # malformed: a clear 400, as on the worker
    assert endpoint.published == []


async def test_oversized_body_gets_413(endpoint: Endpoint) -> None:
    message = endpoint.signer.notification(message="x" * 20_000)
    assert await post(endpoint, to_body(message)) == 413
    assert endpoint.published == []


async def test_duplicates_are_dropped(endpoint: Endpoint) -> None:
    body = to_body(endpoint.signer.notification(message=WARNING))
    assert [await post(endpoint, body) for _ in range(3)] == [200, 200, 200]
    assert len(endpoint.published) == 1


async def test_a_state_change_notification_is_published(endpoint: Endpoint) -> None:
    body = to_body(endpoint.signer.notification(message=STATE_CHANGE))
    assert await post(endpoint, body) == 200
    assert endpoint.published == [
        InstanceStateChanged(
            instance_id="i-abcd1111", state="terminated", at=parse_utc("2019-11-11T21:29:54Z")
        )
    ]


async def test_other_notifications_are_accepted_but_ignored(endpoint: Endpoint) -> None:
    body = to_body(endpoint.signer.notification(message=json.dumps({"detail-type": "other"})))
    assert await post(endpoint, body) == 200
    assert endpoint.published == []


async def test_healthz_is_503_until_fresh_then_200(endpoint: Endpoint) -> None:
    response = await endpoint.client.get("/healthz")
    assert response.status == 503
    assert (await response.json())["sqs_age_s"] is None
    endpoint.health.mark("sqs")
    endpoint.health.mark("dynamodb")
    response = await endpoint.client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["ok"] is True
    assert body["lease_held"] is True
