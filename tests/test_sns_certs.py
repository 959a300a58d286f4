"""SNS signing certificates: URL checks, the cache, and fetching over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer as AiohttpServer
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cbas_async.errors import InvalidMessage, TransientError
from cbas_async.sns_certs import (
    CertificateCache,
    check_cert_url,
    check_subscribe_url,
    http_fetcher,
)
from tests.fakes import FakeClock
from tests.sns_signing import CERT_URL, CertFetcher, SnsSigner, issue_certificate

PEM = "SimpleNotificationService-0123abcDEF.pem"


@pytest.mark.parametrize(
    ("url", "region"),
    [
        (f"https://sns.us-east-1.amazonaws.com/{PEM}", "us-east-1"),
        (f"https://sns.us-east-1.amazonaws.com:443/{PEM}", "us-east-1"),
        (f"https://sns.eu-west-3.amazonaws.com/{PEM}", None),
        (f"https://sns.us-gov-west-1.amazonaws.com/{PEM}", None),
        (f"https://sns.cn-north-1.amazonaws.com.cn/{PEM}", "cn-north-1"),
    ],
)
def test_aws_certificate_urls_are_accepted(url: str, region: str | None) -> None:
    check_cert_url(url, region)


@pytest.mark.parametrize(
    "url",
    [
        f"https://sns.us-east-1.evil.com/{PEM}",
        f"https://sns.us-east-1.amazonaws.com.evil.com/{PEM}",
        f"https://evil.com/sns.us-east-1.amazonaws.com/{PEM}",
        f"https://sns.us-east-1.amazonaws.com@evil.com/{PEM}",
        f"https://evil.com@sns.us-east-1.amazonaws.com/{PEM}",
        f"https://evil.com#@sns.us-east-1.amazonaws.com/{PEM}",
        f"http://sns.us-east-1.amazonaws.com/{PEM}",
        f"ftp://sns.us-east-1.amazonaws.com/{PEM}",
        f"https://sns.us-east-1.amazonaws.com:8443/{PEM}",
        f"https://sns.us-east-1.amazonaws.com:/{PEM}",
        f"https://sns.us-east-1.amazonaws.com/{PEM}?x=1",
        f"https://sns.us-east-1.amazonaws.com/{PEM}#x",
        f"https://sns.us-east-1.amazonaws.com/a/{PEM}",
        f"https://sns.us-east-1.amazonaws.com./{PEM}",
        f"https://sqs.us-east-1.amazonaws.com/{PEM}",
        f"https://sns.amazonaws.com/{PEM}",
        f"https://sns.us-east-1.amazonaws.com.cn/{PEM}",
        f"https://sns.cn-north-1.amazonaws.com/{PEM}",
        "https://sns.us-east-1.amazonaws.com/evil.pem",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-.pem",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-a/../b.pem",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-ab.pem.exe",
        "https://sns.us-east-1.amazonaws.com/Simple\tNotificationService-ab.pem",
        f"https://sns.us-east-1.amazonaws.com/{PEM}\n",
        f" https://sns.us-east-1.amazonaws.com/{PEM}",
        f"https://sns.us-east-1.amazonaws.com/{PEM}".replace("com/", "com\\"),
        f"HTTPS://SNS.US-EAST-1.AMAZONAWS.COM/{PEM}",
        "",
    ],
)
def test_other_certificate_urls_are_rejected(url: str) -> None:
    with pytest.raises(InvalidMessage, match="SigningCertURL"):
        check_cert_url(url)


def test_certificate_url_from_another_region_is_rejected() -> None:
    with pytest.raises(InvalidMessage, match="region eu-west-1, expected us-east-1"):
        check_cert_url(f"https://sns.eu-west-1.amazonaws.com/{PEM}", "us-east-1")


def test_aws_subscribe_url_is_accepted() -> None:
    check_subscribe_url(
        "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"
        "&TopicArn=arn:aws:sns:us-east-1:123456789012:t&Token=2336412f37",
        "us-east-1",
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
        "https://sns.us-east-1.evil.com/?Action=ConfirmSubscription",
        "https://user@sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
        "https://sns.us-east-1.amazonaws.com:8443/?Action=ConfirmSubscription",
        "https://sns.us-east-1.amazonaws.com/x?Action=ConfirmSubscription",
        "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
        "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Action=Publish",
        "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription#f",
        "https://sns.us-east-1.amazonaws.com/?Action=Confirm\tSubscription",
        "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription",
    ],
)
def test_other_subscribe_urls_are_rejected(url: str) -> None:
    with pytest.raises(InvalidMessage, match="SubscribeURL"):
        check_subscribe_url(url, "us-east-1")


# --- the cache ------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_cache_keeps_a_bounded_number_of_certificates(clock: FakeClock) -> None:
    urls = [f"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-{n}.pem" for n in "abc"]
    pem = SnsSigner.create().cert_pem
    fetcher = CertFetcher(dict.fromkeys(urls, pem))
    cache = CertificateCache(fetch=fetcher, clock=clock, max_entries=2)

    for url in [*urls, urls[2], urls[1], urls[0]]:
        await cache.public_key(url)

    assert fetcher.calls == [*urls, urls[0]]


async def test_certificate_not_yet_valid_is_rejected(clock: FakeClock) -> None:
    pem = issue_certificate(
        SnsSigner.create().key.public_key(), not_before=clock.now().replace(year=2027)
    )
    cache = CertificateCache(fetch=CertFetcher({CERT_URL: pem}), clock=clock)

    with pytest.raises(InvalidMessage, match="not yet valid"):
        await cache.public_key(CERT_URL)


async def test_certificate_without_an_rsa_key_is_rejected(clock: FakeClock) -> None:
    pem = issue_certificate(ec.generate_private_key(ec.SECP256R1()).public_key())
    cache = CertificateCache(fetch=CertFetcher({CERT_URL: pem}), clock=clock)

    with pytest.raises(InvalidMessage, match="not RSA"):
        await cache.public_key(CERT_URL)


async def test_weak_rsa_key_is_rejected(clock: FakeClock) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    cache = CertificateCache(
        fetch=CertFetcher({CERT_URL: issue_certificate(weak.public_key())}), clock=clock
    )

    with pytest.raises(InvalidMessage, match="too weak"):
        await cache.public_key(CERT_URL)


@pytest.mark.parametrize("body", [b"", b"hello", b"-----BEGIN CERTIFICATE-----\nAAAA\n"])
async def test_body_that_is_not_a_certificate_is_rejected(clock: FakeClock, body: bytes) -> None:
    cache = CertificateCache(fetch=CertFetcher({CERT_URL: body}), clock=clock)

    with pytest.raises(InvalidMessage, match="not a PEM certificate"):
        await cache.public_key(CERT_URL)


async def test_failed_fetch_is_not_cached(clock: FakeClock) -> None:
    fetcher = CertFetcher({})
    cache = CertificateCache(fetch=fetcher, clock=clock)
    with pytest.raises(InvalidMessage, match="404"):
        await cache.public_key(CERT_URL)

    fetcher.certs[CERT_URL] = SnsSigner.create().cert_pem
    await cache.public_key(CERT_URL)

    assert fetcher.calls == [CERT_URL, CERT_URL]


# --- fetching over HTTP ---------------------------------------------------------------------


@pytest.fixture
async def cert_server() -> AsyncIterator[AiohttpServer]:
    pem = SnsSigner.create().cert_pem

    async def cert(request: web.Request) -> web.StreamResponse:
        match request.match_info["name"]:
            case "good.pem":
                return web.Response(body=pem)
            case "huge.pem":
                return web.Response(body=b"x" * 100_000)
            case "moved.pem":
                raise web.HTTPFound("/good.pem")
            case "broken.pem":
                return web.Response(status=502)
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/{name}", cert)
    server = AiohttpServer(app, host="127.0.0.1")
    async with server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


async def test_http_fetcher_returns_the_body(
    cert_server: AiohttpServer, session: aiohttp.ClientSession
) -> None:
    body = await http_fetcher(session)(str(cert_server.make_url("/good.pem")))

    assert body.startswith(b"-----BEGIN CERTIFICATE-----")


@pytest.mark.parametrize(
    ("name", "error", "match"),
    [
        ("missing.pem", InvalidMessage, "HTTP 404"),
        ("moved.pem", InvalidMessage, "HTTP 302"),
        ("huge.pem", InvalidMessage, "larger than 65536"),
        ("broken.pem", TransientError, "HTTP 502"),
    ],
)
async def test_http_fetcher_refuses_bad_answers(
    cert_server: AiohttpServer,
    session: aiohttp.ClientSession,
    name: str,
    error: type[Exception],
    match: str,
) -> None:
    with pytest.raises(error, match=match):
        await http_fetcher(session)(str(cert_server.make_url(f"/{name}")))


async def test_http_fetcher_unreachable_host_is_transient(session: aiohttp.ClientSession) -> None:
    server = AiohttpServer(web.Application(), host="127.0.0.1")
    async with server:
        url = str(server.make_url("/gone.pem"))

    with pytest.raises(TransientError):
        await http_fetcher(session, timeout_s=5)(url)
