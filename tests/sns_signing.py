"""Test helpers: a test CA, SNS signing certificates, and AWS-format signed SNS messages.

Keys are generated once per test process. The string to sign is written here again,
from AWS's documentation, rather than imported from `cbas_async.sns`, so a mistake there
is not mirrored here.

    signer = SnsSigner.create(clock=clock)
    body = to_body(signer.notification(topic_arn=ARN, message="hi", subject="s"))
    certs = CertificateCache(fetch=CertFetcher.serving(signer), clock=clock)
"""

from __future__ import annotations

import base64
import functools
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPublicKeyTypes,
)
from cryptography.x509.oid import NameOID

from cbas_async.clock import Clock, utc_iso
from cbas_async.errors import InvalidMessage

REGION = "us-east-1"
TOPIC_ARN = f"arn:aws:sns:{REGION}:123456789012:cbas-test"
CERT_URL = f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)

_NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_KEYS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}


@functools.cache
def rsa_key(name: str) -> rsa.RSAPrivateKey:
    """A 2048-bit RSA key per name, generated once per process."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@functools.cache
def ca_certificate() -> x509.Certificate:
    """A self-signed root standing in for Amazon's CA (its key is `rsa_key("ca")`)."""
    key = rsa_key("ca")
    return (
        x509.CertificateBuilder()
        .subject_name(_name("cbas test CA"))
        .issuer_name(_name("cbas test CA"))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(EPOCH)
        .not_valid_after(FAR_FUTURE)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )


def issue_certificate(
    public_key: CertificateIssuerPublicKeyTypes,
    *,
    not_before: datetime = EPOCH,
    not_after: datetime = FAR_FUTURE,
    self_signed_with: rsa.RSAPrivateKey | None = None,
) -> bytes:
    """A PEM leaf certificate for `public_key`, by the test CA unless `self_signed_with`."""
    signer = self_signed_with or rsa_key("ca")
    issuer = _name("sns.amazonaws.com") if self_signed_with else ca_certificate().subject
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("sns.amazonaws.com"))
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(signer, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def to_body(message: Mapping[str, object]) -> bytes:
    return json.dumps(message).encode()


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """AWS's documented string to sign for `message` (Subject only when present)."""
    keys = _NOTIFICATION_KEYS if message["Type"] == "Notification" else _CONFIRMATION_KEYS
    return "".join(f"{k}\n{message[k]}\n" for k in keys if k in message).encode()


class SnsSigner:
    """Signs SNS messages as AWS does, with a certificate served at `cert_url`."""

    def __init__(
        self,
        *,
        key: rsa.RSAPrivateKey,
        cert_pem: bytes,
        cert_url: str = CERT_URL,
        clock: Clock | None = None,
    ) -> None:
        self.key = key
        self.cert_pem = cert_pem
        self.cert_url = cert_url
        self.clock = clock

    @classmethod
    def create(
        cls,
        *,
        key_name: str = "signing",
        cert_url: str = CERT_URL,
        clock: Clock | None = None,
        not_before: datetime = EPOCH,
        not_after: datetime = FAR_FUTURE,
        self_signed: bool = False,
    ) -> SnsSigner:
        """A signer with its own certificate; `self_signed` skips the test CA."""
        key = rsa_key(key_name)
        pem = issue_certificate(
            key.public_key(),
            not_before=not_before,
            not_after=not_after,
            self_signed_with=key if self_signed else None,
        )
        return cls(key=key, cert_pem=pem, cert_url=cert_url, clock=clock)

    def sign(self, message: Mapping[str, Any], version: str = "2") -> dict[str, Any]:
        """`message` plus SignatureVersion, Signature and SigningCertURL."""
        signature = self.key.sign(string_to_sign(message), padding.PKCS1v15(), _HASHES[version]())
        return {
            **message,
            "SignatureVersion": version,
            "Signature": base64.b64encode(signature).decode(),
            "SigningCertURL": self.cert_url,
        }

    def notification(
        self,
        *,
        topic_arn: str = TOPIC_ARN,
        message: str = "{}",
        subject: str | None = None,
        message_id: str | None = None,
        timestamp: datetime | None = None,
        version: str = "2",
        attributes: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """A signed Notification; `attributes` become String MessageAttributes."""
        fields: dict[str, Any] = {"Type": "Notification", "MessageId": message_id or _uuid()}
        fields["TopicArn"] = topic_arn
        if subject is not None:
            fields["Subject"] = subject
        fields["Message"] = message
        fields["Timestamp"] = self._timestamp(timestamp)
        signed = self.sign(fields, version)
        signed["UnsubscribeURL"] = (
            f"https://sns.{_region(topic_arn)}.amazonaws.com/?Action=Unsubscribe"
            f"&SubscriptionArn={topic_arn}:{_uuid()}"
        )
        if attributes is not None:
            signed["MessageAttributes"] = {
                name: {"Type": "String", "Value": value} for name, value in attributes.items()
            }
        return signed

    def subscription_confirmation(self, **kwargs: Any) -> dict[str, Any]:
        """A signed SubscriptionConfirmation (see `confirmation` for the arguments)."""
        return self.confirmation("SubscriptionConfirmation", **kwargs)

    def unsubscribe_confirmation(self, **kwargs: Any) -> dict[str, Any]:
        return self.confirmation("UnsubscribeConfirmation", **kwargs)

    def confirmation(
        self,
        kind: str,
        *,
        topic_arn: str = TOPIC_ARN,
        token: str | None = None,
        subscribe_url: str | None = None,
        message_id: str | None = None,
        timestamp: datetime | None = None,
        version: str = "2",
    ) -> dict[str, Any]:
        token = token or uuid.uuid4().hex * 4
        fields = {
            "Type": kind,
            "MessageId": message_id or _uuid(),
            "Token": token,
            "TopicArn": topic_arn,
            "Message": f"You have chosen to subscribe to the topic {topic_arn}.\n"
            "To confirm the subscription, visit the SubscribeURL included in this message.",
            "SubscribeURL": subscribe_url
            or f"https://sns.{_region(topic_arn)}.amazonaws.com/?Action=ConfirmSubscription"
            f"&TopicArn={topic_arn}&Token={token}",
            "Timestamp": self._timestamp(timestamp),
        }
        return self.sign(fields, version)

    def _timestamp(self, timestamp: datetime | None) -> str:
        if timestamp is None:
            timestamp = self.clock.now() if self.clock else datetime.now(UTC)
        # AWS writes milliseconds: 2026-01-01T00:00:00.000Z
        return utc_iso(timestamp)[:-4] + "Z"


class CertFetcher:
    """A `Fetch` serving PEM bodies from a dict, counting the calls (no network)."""

    def __init__(self, certs: Mapping[str, bytes]) -> None:
        self.certs = dict(certs)
        self.calls: list[str] = []

    @classmethod
    def serving(cls, *signers: SnsSigner) -> CertFetcher:
        return cls({signer.cert_url: signer.cert_pem for signer in signers})

    async def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        try:
            return self.certs[url]
        except KeyError:
            raise InvalidMessage(f"{url}: HTTP 404") from None


def _uuid() -> str:
    return str(uuid.uuid4())


def _region(arn: str) -> str:
    return arn.split(":")[3]
