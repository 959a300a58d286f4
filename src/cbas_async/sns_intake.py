"""The one way an SNS HTTP(S) POST is let in, for the master's and the worker's endpoints:
parse (400 malformed, 403 unsigned, 413 too large) -> verify the signature (403 forged, 503 when a
certificate cannot be fetched, so SNS retries) -> one of our topics (403) -> not a
duplicate. `forget` lets SNS's redelivery through when handling failed afterwards."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import structlog

from cbas_async.errors import InvalidMessage, TransientError
from cbas_async.sns import DuplicateFilter, SnsVerifier, topic_owned
from cbas_async.sns_envelope import MessageTooLarge, SnsEnvelope, Unsigned, parse_envelope

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a POST was not let in, as the HTTP status to answer."""

    status: int
    problem: str


DUPLICATE = "duplicate"


class SnsIntake:
    """Checks POST bodies against one verifier, a set of topics and a duplicate filter."""

    def __init__(
        self,
        *,
        verifier: SnsVerifier,
        topics: Collection[str],
        max_bytes: int,
        duplicates: DuplicateFilter | None = None,
    ) -> None:
        self._verifier = verifier
        self._topics = frozenset(topics)
        self._max_bytes = max_bytes
        self._duplicates = duplicates or DuplicateFilter()

    async def accept(self, body: bytes) -> SnsEnvelope | Refused | str:
        """The envelope to handle, a `Refused`, or `DUPLICATE` (answer 200, do nothing)."""
        try:
            envelope = parse_envelope(body, max_bytes=self._max_bytes)
        except MessageTooLarge as exc:
            return _refused(413, exc)
        except Unsigned as exc:
            return _refused(403, exc)
        except InvalidMessage as exc:
            return _refused(400, exc)
        try:
            await self._verifier.verify(envelope)
        except InvalidMessage as exc:
            return _refused(403, exc)
        except TransientError as exc:
            return _refused(503, exc)
        if not topic_owned(envelope, self._topics):
            return _refused(403, InvalidMessage(f"not our topic: {envelope.topic_arn[:200]}"))
        if self._duplicates.seen(envelope.message_id):
            return DUPLICATE
        return envelope

    def forget(self, envelope: SnsEnvelope) -> None:
        """Handling failed: let SNS's redelivery of this message through."""
        self._duplicates.forget(envelope.message_id)


def _refused(status: int, exc: Exception) -> Refused:
    problem = str(exc)[:300]
    log.warning("sns_refused", status=status, problem=problem)
    return Refused(status, problem)
