"""Retries with capped exponential backoff and full jitter for calls that touch AWS."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
import structlog
from aiodynamo import errors as dynamo
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.parsers import ResponseParserError

from cbas_async.clock import Clock
from cbas_async.errors import TransientError

log = structlog.get_logger(__name__)

T = TypeVar("T")

_TRANSIENT_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
    }
)
_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    TransientError,
    aiohttp.ClientError,
    TimeoutError,
    ConnectionError,  # the builtin: refused or reset below the HTTP client
    BotoConnectionError,
    HTTPClientError,
    ResponseParserError,  # moto's HTTP 500 reaches aiobotocore as this
    dynamo.Throttled,
    dynamo.ProvisionedThroughputExceeded,
    dynamo.RequestLimitExceeded,
    dynamo.InternalDynamoError,
    dynamo.ServiceUnavailable,
    dynamo.TransactionConflict,
)


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the call that raised `exc` may succeed."""
    if isinstance(exc, _TRANSIENT_TYPES):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return exc.response.get("Error", {}).get("Code") in _TRANSIENT_CODES or status >= 500
    if isinstance(exc, dynamo.UnknownError):
        return exc.status >= 500
    return False


async def retrying(
    call: Callable[[], Awaitable[T]],
    *,
    clock: Clock,
    what: str,
    attempts: int = 4,
    base_delay_s: float = 0.25,
    max_delay_s: float = 4.0,
) -> T:
    """Await `call()`, retrying transient failures; the last failure (or any permanent one)
    propagates. Cancellation is never retried."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except Exception as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            delay_s = random.uniform(0, min(max_delay_s, base_delay_s * 2 ** (attempt - 1)))
            log.warning(
                "retrying", what=what, attempt=attempt, delay_s=round(delay_s, 3), error=repr(exc)
            )
            await clock.sleep(delay_s)
    raise AssertionError("unreachable: the last attempt returns or raises")
