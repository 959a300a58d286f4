"""SNS signing certificates: which URLs may serve them, fetching them, caching them."""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from cbas_async.clock import Clock
from cbas_async.errors import InvalidMessage, TransientError

Fetch = Callable[[str], Awaitable[bytes]]
"""Returns the body at a URL; raises `InvalidMessage` (nothing usable there) or `TransientError`."""

MIN_RSA_BITS = 2048
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d+"
_HOST = rf"sns\.(?P<region>{_REGION})\.amazonaws\.com(?P<cn>\.cn)?"
# One pattern over the whole URL, rather than urlsplit: urlsplit silently drops tabs and
# newlines, so a URL it accepts may not be the URL the HTTP client fetches.
_CERT_URL = re.compile(rf"https://{_HOST}(?::443)?/SimpleNotificationService-[A-Za-z0-9]+\.pem")
_SNS_HOST = re.compile(_HOST)


def check_cert_url(url: str, region: str | None = None) -> None:
    """Raise `InvalidMessage` unless `url` can only be an AWS SNS signing certificate."""
    found = _CERT_URL.fullmatch(url)
    if found is None:
        raise InvalidMessage(f"SigningCertURL is not an AWS SNS certificate URL: {url[:200]!r}")
    _check_region(found, region, "SigningCertURL")


def check_subscribe_url(url: str, region: str | None = None) -> None:
    """Raise `InvalidMessage` unless `url` is an AWS SNS ConfirmSubscription URL."""
    parts = urlsplit(url)
    host = _SNS_HOST.fullmatch(parts.netloc.removesuffix(":443"))
    if (
        not url.isascii()
        or not url.isprintable()
        or " " in url
        or parts.scheme != "https"
        or host is None
        or parts.path != "/"
        or parts.fragment
        or parse_qs(parts.query).get("Action") != ["ConfirmSubscription"]
    ):
        raise InvalidMessage(f"SubscribeURL is not an AWS SNS confirmation URL: {url[:200]!r}")
    _check_region(host, region, "SubscribeURL")


def _check_region(host: re.Match[str], region: str | None, field: str) -> None:
    found = host["region"]
    if region is not None and found != region:
        raise InvalidMessage(f"{field} is in region {found}, expected {region}")
    if (host["cn"] is not None) != found.startswith("cn-"):
        raise InvalidMessage(f"{field} has the wrong domain for region {found}")


def http_fetcher(
    session: aiohttp.ClientSession, *, timeout_s: float = 10.0, max_bytes: int = 65_536
) -> Fetch:
    """A `Fetch` over `session`: no redirects, a timeout, and a bounded body."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def fetch(url: str) -> bytes:
        try:
            async with session.get(url, allow_redirects=False, timeout=timeout) as response:
                if response.status >= 500:
                    raise TransientError(f"{url}: HTTP {response.status}")
                if response.status != 200:
                    raise InvalidMessage(f"{url}: HTTP {response.status}")
                return await _read_bounded(response, max_bytes)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"{url}: {exc!r}") from exc

    return fetch


async def _read_bounded(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    body = bytearray()
    async for chunk in response.content.iter_chunked(16_384):
        body += chunk
        if len(body) > max_bytes:
            raise InvalidMessage(f"{response.url}: body larger than {max_bytes} bytes")
    return bytes(body)


class CertificateCache:
    """Signing certificates by URL: fetched once, checked, kept (LRU) while still valid.

    A cache hit takes no lock; misses are fetched one at a time, so a burst of messages
    signed with a new certificate costs one fetch.
    """

    def __init__(self, *, fetch: Fetch, clock: Clock, max_entries: int = 32) -> None:
        self._fetch = fetch
        self._clock = clock
        self._max_entries = max_entries
        self._certs: OrderedDict[str, x509.Certificate] = OrderedDict()
        self._fetching = asyncio.Lock()

    async def public_key(self, url: str) -> RSAPublicKey:
        """The RSA key of the certificate at `url`; `InvalidMessage` if it is unusable."""
        cert = self._cached(url)
        if cert is None:
            async with self._fetching:
                cert = self._cached(url) or await self._load(url)
        return _rsa_key(cert, url)

    def _cached(self, url: str) -> x509.Certificate | None:
        cert = self._certs.get(url)
        if cert is None:
            return None
        if not _is_current(cert, self._clock):
            del self._certs[url]  # maybe rotated: fetch it again
            return None
        self._certs.move_to_end(url)
        return cert

    async def _load(self, url: str) -> x509.Certificate:
        pem = await self._fetch(url)
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError as exc:
            raise InvalidMessage(f"{url}: not a PEM certificate") from exc
        if not _is_current(cert, self._clock):
            raise InvalidMessage(f"{url}: certificate expired or not yet valid")
        _rsa_key(cert, url)
        self._certs[url] = cert
        if len(self._certs) > self._max_entries:
            self._certs.popitem(last=False)
        return cert


def _is_current(cert: x509.Certificate, clock: Clock) -> bool:
    return cert.not_valid_before_utc <= clock.now() <= cert.not_valid_after_utc


def _rsa_key(cert: x509.Certificate, url: str) -> RSAPublicKey:
    key = cert.public_key()
    if not isinstance(key, RSAPublicKey):
        raise InvalidMessage(f"{url}: certificate key is not RSA")
    if key.key_size < MIN_RSA_BITS:
        raise InvalidMessage(f"{url}: RSA key of {key.key_size} bits is too weak")
    return key
