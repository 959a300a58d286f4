"""SNS HTTP(S) message envelopes: parse a POSTed body into an `SnsEnvelope`, and build the
string AWS signed from it (`canonical_string`). Checking the signature is `sns`'s."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Literal, TypeAlias, get_args

from cryptography.hazmat.primitives import hashes

from cbas_async.clock import parse_utc
from cbas_async.errors import InvalidMessage

MessageType: TypeAlias = Literal[
    "Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"
]

# AWS's documented string-to-sign keys, in order; Subject only when present.
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
_TYPES: tuple[MessageType, ...] = get_args(MessageType)
SIGNATURE_HASHES: dict[str, type[hashes.SHA1 | hashes.SHA256]] = {
    "1": hashes.SHA1,
    "2": hashes.SHA256,
}


class MessageTooLarge(InvalidMessage):
    """The body is longer than the endpoint accepts (HTTP 413)."""


class Unsigned(InvalidMessage):
    """The signature fields are missing or unusable: answered as forbidden, not malformed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SnsEnvelope:
    """One SNS message as delivered to an HTTP(S) endpoint.

    `message_attributes` and `unsubscribe_url` are NOT covered by AWS's signature: never
    base a security decision on them. `raw` is the JSON object as received.
    """

    type: MessageType
    message_id: str
    topic_arn: str
    message: str
    timestamp: datetime
    signature_version: str
    signature: bytes = field(repr=False)
    signing_cert_url: str
    subject: str | None = None
    token: str | None = None
    subscribe_url: str | None = None
    unsubscribe_url: str | None = None
    message_attributes: Mapping[str, str] = field(default_factory=dict, hash=False)
    raw: Mapping[str, object] = field(hash=False, repr=False, compare=False)


def parse_envelope(body: bytes, *, max_bytes: int) -> SnsEnvelope:
    """Parse a POSTed body; raises `MessageTooLarge`, or `InvalidMessage` saying why."""
    if len(body) > max_bytes:
        raise MessageTooLarge(f"body of {len(body)} bytes exceeds {max_bytes}")
    raw = _load_object(body)
    kind = _message_type(raw)
    confirmation = kind != "Notification"
    return SnsEnvelope(
        type=kind,
        message_id=_required(raw, "MessageId"),
        topic_arn=_required(raw, "TopicArn"),
        message=_required(raw, "Message", allow_empty=True),
        timestamp=_timestamp(_required(raw, "Timestamp")),
        signature_version=_signature_version(raw),
        signature=_signature(raw),
        signing_cert_url=_signed(raw, "SigningCertURL"),
        subject=None if confirmation else _optional(raw, "Subject"),
        token=_required(raw, "Token") if confirmation else None,
        subscribe_url=_required(raw, "SubscribeURL") if confirmation else None,
        unsubscribe_url=_optional(raw, "UnsubscribeURL"),
        message_attributes=_attributes(raw.get("MessageAttributes")),
        raw=MappingProxyType(raw),
    )


def _load_object(body: bytes) -> dict[str, object]:
    try:
        loaded: object = json.loads(body, object_pairs_hook=_no_duplicate_keys)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidMessage(f"body is not JSON: {exc}") from exc
    if not isinstance(loaded, dict):
        raise InvalidMessage("body is not a JSON object")
    return loaded


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # Two parsers may pick different copies of a repeated key: refuse the ambiguity.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise InvalidMessage("body has a repeated JSON key")
    return result


def _message_type(raw: Mapping[str, object]) -> MessageType:
    kind = raw.get("Type")
    for known in _TYPES:
        if kind == known:
            return known
    shown = kind[:50] if isinstance(kind, str) else type(kind).__name__
    raise InvalidMessage(f"unknown Type {shown!r}")


def _required(raw: Mapping[str, object], key: str, *, allow_empty: bool = False) -> str:
    value = raw.get(key)
    if not isinstance(value, str):
        raise InvalidMessage(f"{key} is missing or not a string")
    if not value and not allow_empty:
        raise InvalidMessage(f"{key} is empty")
    return value


def _optional(raw: Mapping[str, object], key: str) -> str | None:
    return None if raw.get(key) is None else _required(raw, key, allow_empty=True)


def _timestamp(text: str) -> datetime:
    try:
        return parse_utc(text).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidMessage(f"Timestamp {text[:50]!r} is not an ISO 8601 time") from exc


def _signed(raw: Mapping[str, object], key: str) -> str:
    """A signature field: missing or empty makes the message unsigned, not malformed."""
    try:
        return _required(raw, key)
    except InvalidMessage as exc:
        raise Unsigned(str(exc)) from exc


def _signature_version(raw: Mapping[str, object]) -> str:
    version = _signed(raw, "SignatureVersion")
    if version not in SIGNATURE_HASHES:
        raise Unsigned(f"unknown SignatureVersion {version[:20]!r}")
    return version


def _signature(raw: Mapping[str, object]) -> bytes:
    text = _signed(raw, "Signature")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Unsigned("Signature is not base64") from exc


def _attributes(value: object) -> Mapping[str, str]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, dict):
        raise InvalidMessage("MessageAttributes is not an object")
    result: dict[str, str] = {}
    for name, attribute in value.items():
        text = attribute.get("Value") if isinstance(attribute, dict) else None
        if not isinstance(text, str):
            raise InvalidMessage(f"MessageAttributes[{name[:50]!r}] has no string Value")
        result[name] = text
    return MappingProxyType(result)


def canonical_string(envelope: SnsEnvelope) -> bytes:
    """AWS's string to sign, built from the fields as received (`raw`), byte for byte."""
    keys = _NOTIFICATION_KEYS if envelope.type == "Notification" else _CONFIRMATION_KEYS
    lines: list[str] = []
    for key in keys:
        value = envelope.raw.get(key)
        if value is None and key == "Subject":
            continue
        if not isinstance(value, str):
            raise InvalidMessage(f"{key} is missing or not a string")
        lines += [key, value]
    return "".join(f"{line}\n" for line in lines).encode()
