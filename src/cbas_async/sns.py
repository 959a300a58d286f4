"""Whether a parsed SNS envelope is to be trusted, and answering subscriptions: verify AWS's
signature and the message's age, keep to our topics, drop redeliveries, confirm.

The signing certificates live in `sns_certs`, parsing in `sns_envelope`. An endpoint handles
a POST as: `parse_envelope` -> `SnsVerifier.verify` -> `topic_owned` -> `DuplicateFilter.seen`
(all four in `sns_intake`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection

import aiohttp
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding

from cbas_async.clock import Clock
from cbas_async.errors import InvalidMessage, TransientError
from cbas_async.sns_certs import CertificateCache, check_cert_url, check_subscribe_url
from cbas_async.sns_envelope import SIGNATURE_HASHES, SnsEnvelope, canonical_string


class SnsVerifier:
    """Checks that an envelope was signed by AWS SNS and is recent; a no-op when disabled.

    Disabled is for the local cloud only: moto's signatures do not verify.
    """

    def __init__(
        self,
        *,
        certificates: CertificateCache,
        region: str | None,
        enabled: bool,
        clock: Clock,
        max_age_s: float = 3600.0,
        max_skew_s: float = 300.0,
    ) -> None:
        self._certificates = certificates
        self._region = region
        self._enabled = enabled
        self._clock = clock
        self._max_age_s = max_age_s
        self._max_skew_s = max_skew_s

    async def verify(self, envelope: SnsEnvelope) -> None:
        """Raise `InvalidMessage` if forged, tampered or stale.

        `TransientError` if the certificate cannot be fetched right now.
        """
        if not self._enabled:
            return
        algorithm = SIGNATURE_HASHES.get(envelope.signature_version)
        if algorithm is None:
            raise InvalidMessage(f"unknown SignatureVersion {envelope.signature_version[:20]!r}")
        self._check_age(envelope)
        check_cert_url(envelope.signing_cert_url, self._region)
        key = await self._certificates.public_key(envelope.signing_cert_url)
        try:
            key.verify(
                envelope.signature, canonical_string(envelope), padding.PKCS1v15(), algorithm()
            )
        except InvalidSignature as exc:
            raise InvalidMessage(f"bad signature on message {envelope.message_id}") from exc

    def _check_age(self, envelope: SnsEnvelope) -> None:
        age_s = (self._clock.now() - envelope.timestamp).total_seconds()
        if age_s > self._max_age_s:
            raise InvalidMessage(f"message {envelope.message_id} is {age_s:.0f} s old")
        if age_s < -self._max_skew_s:
            raise InvalidMessage(f"message {envelope.message_id} is from the future")


class DuplicateFilter:
    """The last `capacity` MessageIds seen, to drop SNS's redeliveries.

    Call it only on verified messages: a forged message must not be able to shadow a
    genuine one. `forget` undoes `seen` when handling failed, so a redelivery gets through.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def seen(self, message_id: str) -> bool:
        """True if `message_id` is a duplicate; otherwise record it and return False."""
        if message_id in self._ids:
            self._ids.move_to_end(message_id)
            return True
        self._ids[message_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return False

    def forget(self, message_id: str) -> None:
        self._ids.pop(message_id, None)

    def __len__(self) -> int:
        return len(self._ids)


def topic_owned(envelope: SnsEnvelope, topic_arns: Collection[str]) -> bool:
    return envelope.topic_arn in topic_arns


async def confirm_subscription(
    session: aiohttp.ClientSession,
    envelope: SnsEnvelope,
    *,
    region: str | None = None,
    check_url: bool = True,
    timeout_s: float = 10.0,
) -> None:
    """GET the SubscribeURL of a verified SubscriptionConfirmation.

    With `check_url` (verification on) the URL must be AWS's. Raises `InvalidMessage` if
    the envelope or URL is wrong or AWS refuses, `TransientError` if worth retrying.
    """
    url = envelope.subscribe_url
    if envelope.type != "SubscriptionConfirmation" or url is None:
        raise InvalidMessage(f"{envelope.type} {envelope.message_id} is not a confirmation")
    if check_url:
        check_subscribe_url(url, region)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with session.get(url, allow_redirects=False, timeout=timeout) as response:
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise TransientError(f"confirming {envelope.topic_arn}: {exc!r}") from exc
    if status >= 500:
        raise TransientError(f"confirming {envelope.topic_arn}: HTTP {status}")
    if status >= 300:
        raise InvalidMessage(f"confirming {envelope.topic_arn}: HTTP {status}")
