"""Fault injection for the local cloud: make a service's calls fail for a while.

`FaultGate` is WSGI middleware in front of moto. During an outage it answers a share of
the requests to one service (`s3` or `dynamodb`, read from the SigV4 credential scope)
with the errors the real service sends under stress: S3 `503 SlowDown` or `500
InternalError`, DynamoDB `500 InternalServerError` or `400 ThrottlingException`. The
product's clients see real HTTP errors and must retry with backoff. Requests signed with
an exempt access key (the chaos observer's own) always pass. EC2 launches are refused
under the capacity and quota outages of `gate.ec2` (`local.ec2_faults`).
"""

from __future__ import annotations

import io
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cbas_async.local.ec2_faults import Ec2Faults, error_xml, parse_launch, request_id

SERVICES = frozenset({"s3", "dynamodb"})  # the storage services; their errors below

# "Credential=AKID/20261127/us-east-1/s3/aws4_request" (header) or the presigned query form
_SCOPE = re.compile(
    r"Credential=([^/,\s&]+)(?:/|%2F)[0-9]{8}(?:/|%2F)([^/%]+)(?:/|%2F)([a-z0-9-]+)"
)

_S3_ERRORS = (
    ("503 Service Unavailable", "SlowDown", "Please reduce your request rate."),
    ("500 Internal Server Error", "InternalError", "We encountered an internal error."),
)
_DYNAMO_ERRORS = (
    ("500 Internal Server Error", "InternalServerError", "Internal server error"),
    ("400 Bad Request", "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
)


@dataclass(frozen=True, slots=True)
class Outage:
    service: str
    until: float  # monotonic seconds
    probability: float


def signer(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(access key, service) from a SigV4-signed request, None when unsigned."""
    found = request_scope(environ)
    return (found[0], found[2]) if found else None


def request_scope(environ: dict[str, Any]) -> tuple[str, str, str] | None:
    """(access key, region, service) of a SigV4-signed request."""
    found = _SCOPE.search(str(environ.get("HTTP_AUTHORIZATION", ""))) or _SCOPE.search(
        str(environ.get("QUERY_STRING", ""))
    )
    return (found.group(1), found.group(2), found.group(3)) if found else None


class FaultGate:
    """WSGI middleware failing requests to services under an outage; thread-safe."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        *,
        exempt_keys: frozenset[str] = frozenset(),
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        ec2: Ec2Faults | None = None,
    ) -> None:
        self._app = app
        self.ec2 = ec2
        self._exempt = exempt_keys
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._outages: list[Outage] = []
        self._next: Counter[str] = Counter()  # requests still to fail, by service
        self.failed: Counter[str] = Counter()  # injected errors by service

    def fail(self, service: str, *, seconds: float, probability: float = 1.0) -> None:
        """From now on, for `seconds`, fail each request to `service` with `probability`."""
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}; one of {sorted(SERVICES)}")
        if not (0.0 < probability <= 1.0) or seconds <= 0:
            raise ValueError("an outage needs seconds > 0 and 0 < probability <= 1")
        with self._lock:
            self._outages.append(Outage(service, self._monotonic() + seconds, probability))

    def fail_next(self, service: str, count: int) -> None:
        """Fail the next `count` requests to `service`, whenever they come."""
        if service not in SERVICES or count < 1:
            raise ValueError(f"fail_next needs one of {sorted(SERVICES)} and a count >= 1")
        with self._lock:
            self._next[service] += count

    def clear(self) -> None:
        """End every outage now."""
        with self._lock:
            self._outages.clear()
            self._next.clear()
        if self.ec2 is not None:
            self.ec2.clear()

    def active(self) -> list[Outage]:
        now = self._monotonic()
        with self._lock:
            self._outages = [o for o in self._outages if o.until > now]
            return list(self._outages)

    def _should_fail(self, environ: dict[str, Any]) -> str | None:
        if not self._outages and not any(self._next.values()):
            return None  # nothing planned: every request of the local cloud passes here
        signed = signer(environ)
        if signed is None or signed[0] in self._exempt:
            return None
        service = signed[1]
        outages = [o for o in self.active() if o.service == service]
        with self._lock:
            if self._next[service] > 0:
                self._next[service] -= 1
                hit = True
            else:
                hit = bool(outages) and self._rng.random() < max(o.probability for o in outages)
            if hit:
                self.failed[service] += 1
        return service if hit else None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if self.ec2 is not None and self.ec2.any_active():
            scope = request_scope(environ)
            if scope is not None and scope[2] == "ec2" and scope[0] not in self._exempt:
                return self._gate_launch(self.ec2, scope[1], environ, start_response)
        service = self._should_fail(environ)
        if service is None:
            return self._app(environ, start_response)
        _drain(environ)  # the body must leave the connection before the answer
        status, body, content_type = self._error(service)
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    def _gate_launch(
        self, ec2: Ec2Faults, region: str, environ: dict[str, Any], start_response: Any
    ) -> Iterable[bytes]:
        """Pass an EC2 request on unless it is a launch an outage refuses."""
        ask = parse_launch(read_body(environ))
        if ask is None:
            return self._app(environ, start_response)
        with ec2.launching:
            refusal = ec2.refusal(ask, region)
            if refusal is None:
                return list(self._app(environ, start_response))
        xml = error_xml(refusal, request_id())
        headers = [("Content-Type", "text/xml;charset=UTF-8"), ("Content-Length", str(len(xml)))]
        start_response(refusal.status, headers)
        return [xml]

    def _error(self, service: str) -> tuple[str, bytes, str]:
        with self._lock:
            pick = self._rng.random() < 0.5
        if service == "dynamodb":
            status, code, message = _DYNAMO_ERRORS[pick]
            kind = f"com.amazonaws.dynamodb.v20120810#{code}"
            body = f'{{"__type":"{kind}","message":"{message}"}}'
            return status, body.encode(), "application/x-amz-json-1.0"
        status, code, message = _S3_ERRORS[pick]
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            "<RequestId>cbas-fault</RequestId></Error>"
        )
        return status, xml.encode(), "application/xml"


def read_body(environ: dict[str, Any]) -> bytes:
    """The request's body, put back for the app behind (EC2's Query API bodies are small)."""
    chunks: list[bytes] = []
    _drain(environ, chunks)
    body = b"".join(chunks)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _drain(environ: dict[str, Any], keep: list[bytes] | None = None) -> None:
    """Read the request's body off the connection; into `keep` when given."""
    stream = environ.get("wsgi.input")
    try:
        left = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        left = 0
    while stream is not None and left > 0:
        chunk = stream.read(min(left, 1 << 20))
        if not chunk:
            break
        if keep is not None:
            keep.append(chunk)
        left -= len(chunk)
