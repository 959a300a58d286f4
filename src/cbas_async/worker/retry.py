"""Retries for what no client below retries: the instance metadata service (plain HTTP) and
an S3 body that breaks off after the response began.

Every AWS request is retried by its client, as `cbas_async.retries` sets the policy, so
`retrying` never retries an error the client has already retried (`retried_below`): one
failing AWS call makes the policy's tries, never a multiple of them.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
import structlog
from aiodynamo import errors as dynamo
from botocore.exceptions import ClientError, HTTPClientError, ResponseStreamingError
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


def retried_below(exc: BaseException) -> bool:
    """Whether the AWS client that raised `exc` has already retried it (botocore's standard
    mode: error responses, connection and HTTP errors; aiodynamo: its own errors, timeouts).
    A body that broke off while being read is not: the request had succeeded."""
    if isinstance(exc, ResponseStreamingError):
        return False
    return isinstance(
        exc, ClientError | BotoConnectionError | HTTPClientError | dynamo.AIODynamoError
    )


async def retrying(
    call: Callable[[], Awaitable[T]],
    *,
    clock: Clock,
    what: str,
    attempts: int = 4,
    base_delay_s: float = 0.25,
    max_delay_s: float = 4.0,
) -> T:
    """Await `call()`, retrying transient failures that nothing below retried; the last
    failure (or any other) propagates. Cancellation is never retried."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except Exception as exc:
            if attempt == attempts or not is_transient(exc) or retried_below(exc):
                raise
            delay_s = random.uniform(0, min(max_delay_s, base_delay_s * 2 ** (attempt - 1)))
            log.warning(
                "retrying", what=what, attempt=attempt, delay_s=round(delay_s, 3), error=repr(exc)
            )
            await clock.sleep(delay_s)
    raise AssertionError("unreachable: the last attempt returns or raises")
