"""SNS envelopes: parsing, signature verification, replay and duplicate protection."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer as AiohttpServer
from hypothesis import given
from hypothesis import strategies as st

from cbas_async.errors import InvalidMessage, TransientError
from cbas_async.sns import DuplicateFilter, SnsVerifier, confirm_subscription, topic_owned
from cbas_async.sns_certs import CertificateCache
from cbas_async.sns_envelope import MessageTooLarge, SnsEnvelope, canonical_string, parse_envelope
from tests.fakes import FakeClock
from tests.sns_signing import (
    CERT_URL,
    REGION,
    TOPIC_ARN,
    CertFetcher,
    SnsSigner,
    string_to_sign,
    to_body,
)

MAX_BYTES = 300_000


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def signer(clock: FakeClock) -> SnsSigner:
    return SnsSigner.create(clock=clock)


@pytest.fixture
def fetcher(signer: SnsSigner) -> CertFetcher:
    return CertFetcher.serving(signer)


@pytest.fixture
def verifier(fetcher: CertFetcher, clock: FakeClock) -> SnsVerifier:
    certificates = CertificateCache(fetch=fetcher, clock=clock)
    return SnsVerifier(certificates=certificates, region=REGION, enabled=True, clock=clock)


def parse(message: Mapping[str, object]) -> SnsEnvelope:
    return parse_envelope(to_body(message), max_bytes=MAX_BYTES)


async def accept(verifier: SnsVerifier, message: Mapping[str, object]) -> SnsEnvelope:
    envelope = parse(message)
    await verifier.verify(envelope)
    return envelope


async def reject(verifier: SnsVerifier, message: Mapping[str, object], match: str) -> None:
    with pytest.raises(InvalidMessage, match=match):
        await accept(verifier, message)


# --- genuine messages -------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("subject", [None, "Job cancelled"])
async def test_genuine_notification_is_accepted(
    verifier: SnsVerifier, signer: SnsSigner, clock: FakeClock, version: str, subject: str | None
) -> None:
    message = signer.notification(
        message='{"command": "cancel"}',
        subject=subject,
        message_id="m-1",
        version=version,
        attributes={"command": "cancel", "job_id": "j-1"},
    )

    envelope = await accept(verifier, message)

    assert envelope.type == "Notification"
    assert envelope.message_id == "m-1"
    assert envelope.topic_arn == TOPIC_ARN
    assert envelope.message == '{"command": "cancel"}'
    assert envelope.subject == subject
    assert envelope.timestamp == clock.now()
    assert envelope.timestamp.tzinfo is not None
    assert envelope.signature_version == version
    assert envelope.signing_cert_url == CERT_URL
    assert envelope.message_attributes == {"command": "cancel", "job_id": "j-1"}
    assert envelope.unsubscribe_url is not None
    assert envelope.token is None
    assert envelope.subscribe_url is None


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("kind", ["SubscriptionConfirmation", "UnsubscribeConfirmation"])
async def test_genuine_confirmation_is_accepted(
    verifier: SnsVerifier, signer: SnsSigner, kind: str, version: str
) -> None:
    message = signer.confirmation(kind, token="t0ken", version=version)

    envelope = await accept(verifier, message)

    assert envelope.type == kind
    assert envelope.token == "t0ken"
    assert envelope.subscribe_url == message["SubscribeURL"]
    assert envelope.subject is None


async def test_message_with_newlines_and_unicode_is_accepted(
    verifier: SnsVerifier, signer: SnsSigner
) -> None:
    message = signer.notification(
        message="line 1\nline 2\n\u00e9\u4e2d\U0001f600", subject="\u00e9"
    )

    assert (await accept(verifier, message)).message.endswith("\U0001f600")


def test_canonical_string_is_aws_string_to_sign(signer: SnsSigner) -> None:
    with_subject = signer.notification(message="m", subject="s", message_id="id")
    confirmation = signer.subscription_confirmation(token="tok", message_id="id")

    assert (
        canonical_string(parse(with_subject))
        == (
            "Message\nm\nMessageId\nid\nSubject\ns\nTimestamp\n2026-01-01T00:00:00.000Z\n"
            f"TopicArn\n{TOPIC_ARN}\nType\nNotification\n"
        ).encode()
    )
    assert canonical_string(parse(confirmation)) == string_to_sign(confirmation)
    assert b"SubscribeURL\nhttps://sns.us-east-1" in canonical_string(parse(confirmation))


async def test_disabled_verifier_accepts_anything_without_fetching(
    fetcher: CertFetcher, clock: FakeClock, signer: SnsSigner
) -> None:
    certificates = CertificateCache(fetch=fetcher, clock=clock)
    verifier = SnsVerifier(certificates=certificates, region=None, enabled=False, clock=clock)
    message = {**signer.notification(), "Message": "forged", "SigningCertURL": "http://x/y"}

    await accept(verifier, message)

    assert fetcher.calls == []


# --- tampered and forged messages --------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("Message", '{"command": "shutdown"}'),
        ("Subject", "Job finished"),
        ("Timestamp", "2026-01-01T00:00:00.001Z"),
        ("TopicArn", "arn:aws:sns:us-east-1:123456789012:other"),
        ("MessageId", "m-2"),
    ],
)
@pytest.mark.parametrize("version", ["1", "2"])
async def test_tampered_notification_is_rejected(
    verifier: SnsVerifier, signer: SnsSigner, key: str, value: str, version: str
) -> None:
    message = signer.notification(message='{"command": "cancel"}', subject="s", version=version)

    await reject(verifier, {**message, key: value}, "bad signature")


async def test_added_subject_is_rejected(verifier: SnsVerifier, signer: SnsSigner) -> None:
    await reject(verifier, {**signer.notification(), "Subject": "added"}, "bad signature")


async def test_removed_subject_is_rejected(verifier: SnsVerifier, signer: SnsSigner) -> None:
    message = signer.notification(subject="s")
    del message["Subject"]

    await reject(verifier, message, "bad signature")


@pytest.mark.parametrize(
    ("key", "value"),
    [("Token", "other"), ("SubscribeURL", "https://sns.us-east-1.amazonaws.com/?x=1")],
)
async def test_tampered_confirmation_is_rejected(
    verifier: SnsVerifier, signer: SnsSigner, key: str, value: str
) -> None:
    message = signer.subscription_confirmation()

    await reject(verifier, {**message, key: value}, "bad signature")


async def test_type_swap_between_confirmations_is_rejected(
    verifier: SnsVerifier, signer: SnsSigner
) -> None:
    message = signer.unsubscribe_confirmation()

    await reject(verifier, {**message, "Type": "SubscriptionConfirmation"}, "bad signature")


async def test_signature_from_another_key_is_rejected(
    verifier: SnsVerifier, fetcher: CertFetcher, clock: FakeClock
) -> None:
    impostor = SnsSigner.create(key_name="impostor", self_signed=True, clock=clock)
    assert impostor.cert_url == CERT_URL

    await reject(verifier, impostor.notification(), "bad signature")
    assert fetcher.calls == [CERT_URL]


async def test_valid_base64_but_wrong_signature_is_rejected(
    verifier: SnsVerifier, signer: SnsSigner
) -> None:
    message = {**signer.notification(), "Signature": "AAAA"}

    await reject(verifier, message, "bad signature")


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-east-1.evil.com/SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.amazonaws.com.evil.com/SimpleNotificationService-abc.pem",
        "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.amazonaws.com/evil.pem",
        "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-abc.pem",
        "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
    ],
)
async def test_certificate_url_not_from_aws_is_rejected_before_fetching(
    verifier: SnsVerifier, fetcher: CertFetcher, clock: FakeClock, url: str
) -> None:
    forger = SnsSigner.create(key_name="impostor", cert_url=url, clock=clock)
    fetcher.certs[url] = forger.cert_pem

    await reject(verifier, forger.notification(), "SigningCertURL")
    assert fetcher.calls == []


async def test_expired_certificate_is_rejected(
    verifier: SnsVerifier, fetcher: CertFetcher, clock: FakeClock
) -> None:
    expired = SnsSigner.create(not_after=clock.now() - timedelta(days=1), clock=clock)
    fetcher.certs[CERT_URL] = expired.cert_pem

    await reject(verifier, expired.notification(), "expired")


async def test_certificate_expiring_while_cached_is_fetched_again(
    verifier: SnsVerifier, fetcher: CertFetcher, clock: FakeClock
) -> None:
    short_lived = SnsSigner.create(not_after=clock.now() + timedelta(hours=1), clock=clock)
    fetcher.certs[CERT_URL] = short_lived.cert_pem
    await accept(verifier, short_lived.notification())

    await clock.advance(2 * 3600)

    await reject(verifier, short_lived.notification(), "expired")
    assert fetcher.calls == [CERT_URL, CERT_URL]


# --- replay, type, version, shape ---------------------------------------------------------


async def test_too_old_message_is_rejected(
    verifier: SnsVerifier, signer: SnsSigner, clock: FakeClock
) -> None:
    await accept(verifier, signer.notification(timestamp=clock.now() - timedelta(seconds=3599)))

    old = signer.notification(timestamp=clock.now() - timedelta(seconds=3601))
    await reject(verifier, old, "old")


async def test_message_from_the_future_is_rejected(
    verifier: SnsVerifier, signer: SnsSigner, clock: FakeClock
) -> None:
    future = signer.notification(timestamp=clock.now() + timedelta(minutes=10))

    await reject(verifier, future, "future")


def test_unknown_type_is_rejected(signer: SnsSigner) -> None:
    with pytest.raises(InvalidMessage, match="unknown Type 'Surprise'"):
        parse({**signer.notification(), "Type": "Surprise"})


def test_unknown_signature_version_is_rejected(signer: SnsSigner) -> None:
    with pytest.raises(InvalidMessage, match="SignatureVersion"):
        parse({**signer.notification(), "SignatureVersion": "3"})


async def test_verifier_rejects_unknown_version_itself(
    verifier: SnsVerifier, signer: SnsSigner
) -> None:
    envelope = dataclasses.replace(parse(signer.notification()), signature_version="3")

    with pytest.raises(InvalidMessage, match="SignatureVersion"):
        await verifier.verify(envelope)


@pytest.mark.parametrize(
    "key",
    ["Type", "MessageId", "TopicArn", "Message", "Timestamp", "Signature", "SigningCertURL"],
)
def test_missing_required_field_is_rejected(signer: SnsSigner, key: str) -> None:
    message = signer.notification()
    del message[key]

    with pytest.raises(InvalidMessage, match=key if key != "Type" else "unknown Type"):
        parse(message)


@pytest.mark.parametrize("key", ["Token", "SubscribeURL"])
def test_confirmation_without_its_fields_is_rejected(signer: SnsSigner, key: str) -> None:
    message = signer.subscription_confirmation()
    del message[key]

    with pytest.raises(InvalidMessage, match=key):
        parse(message)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("Signature", "not base64!", "base64"),
        ("Signature", "", "empty"),
        ("MessageId", 42, "MessageId"),
        ("Subject", ["s"], "Subject"),
        ("Timestamp", "yesterday", "Timestamp"),
        ("MessageAttributes", [], "MessageAttributes"),
        ("MessageAttributes", {"k": {"Type": "Number", "Value": 3}}, "MessageAttributes"),
    ],
)
def test_malformed_field_is_rejected(
    signer: SnsSigner, key: str, value: object, match: str
) -> None:
    with pytest.raises(InvalidMessage, match=match):
        parse({**signer.notification(), key: value})


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"Type": "Notification", "Type": "Notification"}', "repeated"),
        (b"[" * 100_000, "not JSON"),
    ],
)
def test_body_that_is_not_a_json_object_is_rejected(body: bytes, match: str) -> None:
    with pytest.raises(InvalidMessage, match=match):
        parse_envelope(body, max_bytes=MAX_BYTES)


def test_null_subject_counts_as_absent(signer: SnsSigner) -> None:
    message = signer.notification()

    assert canonical_string(parse({**message, "Subject": None})) == string_to_sign(message)


def test_oversized_body_is_too_large_before_parsing() -> None:
    with pytest.raises(MessageTooLarge):
        parse_envelope(b"x" * 1001, max_bytes=1000)
    with pytest.raises(InvalidMessage, match="not JSON"):
        parse_envelope(b"x" * 1000, max_bytes=1000)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)
_KEYS = ["Type", "MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion"]
_KEYS += ["Signature", "SigningCertURL", "Subject", "Token", "SubscribeURL", "MessageAttributes"]
_near_envelopes = st.fixed_dictionaries(
    {},
    optional={
        key: st.sampled_from(["Notification", "SubscriptionConfirmation", "2", "QUJD"]) | _json
        for key in _KEYS
    },
)


@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_invalid_message(body: bytes) -> None:
    with contextlib.suppress(InvalidMessage):
        parse_envelope(body, max_bytes=1000)


@given(_json | _near_envelopes)
def test_arbitrary_json_raises_only_invalid_message(value: Any) -> None:
    try:
        envelope = parse_envelope(json.dumps(value).encode(), max_bytes=MAX_BYTES)
    except InvalidMessage:
        return
    canonical_string(envelope)


# --- duplicates, caching, ownership -------------------------------------------------------


def test_duplicate_filter_drops_repeats_and_forgets_the_oldest() -> None:
    duplicates = DuplicateFilter(capacity=3)

    assert [duplicates.seen(m) for m in ["a", "b", "a", "c", "d"]] == [False] * 2 + [True] + [
        False
    ] * 2
    assert len(duplicates) == 3
    assert duplicates.seen("a") is True  # kept: used more recently than "b"
    assert duplicates.seen("b") is False  # evicted


def test_duplicate_filter_forget_lets_a_redelivery_through() -> None:
    duplicates = DuplicateFilter()
    duplicates.seen("a")

    duplicates.forget("a")

    assert duplicates.seen("a") is False


async def test_redelivered_message_is_a_duplicate(verifier: SnsVerifier, signer: SnsSigner) -> None:
    duplicates = DuplicateFilter()
    message = signer.notification()

    first = await accept(verifier, message)
    again = await accept(verifier, message)

    assert duplicates.seen(first.message_id) is False
    assert duplicates.seen(again.message_id) is True


async def test_certificate_is_fetched_once_for_many_messages(
    verifier: SnsVerifier, signer: SnsSigner, fetcher: CertFetcher
) -> None:
    for _ in range(20):
        await accept(verifier, signer.notification())
    await asyncio.gather(*(accept(verifier, signer.notification()) for _ in range(20)))

    assert fetcher.calls == [CERT_URL]


async def test_concurrent_first_messages_share_one_fetch(
    verifier: SnsVerifier, signer: SnsSigner, fetcher: CertFetcher
) -> None:
    await asyncio.gather(*(accept(verifier, signer.notification()) for _ in range(20)))

    assert fetcher.calls == [CERT_URL]


def test_topic_owned(signer: SnsSigner) -> None:
    envelope = parse(signer.subscription_confirmation())

    assert topic_owned(envelope, {TOPIC_ARN})
    assert not topic_owned(envelope, ["arn:aws:sns:us-east-1:123456789012:someone-else"])
    assert not topic_owned(envelope, [])


# --- confirming subscriptions ---------------------------------------------------------------


@pytest.fixture
async def sns_endpoint() -> AsyncIterator[tuple[AiohttpServer, list[str]]]:
    """A local stand-in for AWS's ConfirmSubscription URL, recording the query strings."""
    requests: list[str] = []

    async def confirm(request: web.Request) -> web.Response:
        requests.append(request.query_string)
        return web.Response(status=int(request.query.get("status", "200")))

    app = web.Application()
    app.router.add_get("/", confirm)
    server = AiohttpServer(app, host="127.0.0.1")
    async with server:
        yield server, requests


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


async def test_confirm_subscription_gets_the_subscribe_url(
    sns_endpoint: tuple[AiohttpServer, list[str]], session: aiohttp.ClientSession, signer: SnsSigner
) -> None:
    server, requests = sns_endpoint
    url = str(server.make_url("/?Action=ConfirmSubscription&Token=t"))
    envelope = parse(signer.subscription_confirmation(subscribe_url=url))

    await confirm_subscription(session, envelope, check_url=False)

    assert requests == ["Action=ConfirmSubscription&Token=t"]


async def test_confirm_subscription_refuses_a_non_aws_url_when_checking(
    sns_endpoint: tuple[AiohttpServer, list[str]], session: aiohttp.ClientSession, signer: SnsSigner
) -> None:
    server, requests = sns_endpoint
    url = str(server.make_url("/?Action=ConfirmSubscription"))
    envelope = parse(signer.subscription_confirmation(subscribe_url=url))

    with pytest.raises(InvalidMessage, match="SubscribeURL"):
        await confirm_subscription(session, envelope, region=REGION)
    assert requests == []


@pytest.mark.parametrize(("status", "error"), [(404, InvalidMessage), (503, TransientError)])
async def test_confirm_subscription_reports_a_refusal(
    sns_endpoint: tuple[AiohttpServer, list[str]],
    session: aiohttp.ClientSession,
    signer: SnsSigner,
    status: int,
    error: type[Exception],
) -> None:
    server, _ = sns_endpoint
    url = str(server.make_url(f"/?Action=ConfirmSubscription&status={status}"))
    envelope = parse(signer.subscription_confirmation(subscribe_url=url))

    with pytest.raises(error, match=str(status)):
        await confirm_subscription(session, envelope, check_url=False)


async def test_confirm_subscription_needs_a_subscription_confirmation(
    session: aiohttp.ClientSession, signer: SnsSigner
) -> None:
    for message in (signer.notification(), signer.unsubscribe_confirmation()):
        with pytest.raises(InvalidMessage, match="not a confirmation"):
            await confirm_subscription(session, parse(message), check_url=False)


def test_timestamps_are_utc(signer: SnsSigner) -> None:
    message = {**signer.notification(), "Timestamp": "2026-01-01T02:00:00+02:00"}

    assert parse(message).timestamp == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse(message).timestamp.utcoffset() == timedelta(0)
