"""The local cloud's fault gate, through the moto server: injected S3 and DynamoDB errors
are real HTTP errors the product's clients retry; exempt keys and other services pass."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from aiodynamo.errors import AIODynamoError
from botocore.exceptions import ClientError

from cbas_async.aws import Clients, open_clients
from cbas_async.bootstrap import bootstrap
from cbas_async.deployment import make_store
from cbas_async.local.faults import FaultGate, signer
from cbas_async.local.moto_server import MotoServer
from cbas_async.settings import Settings

BODY = bytes(range(256)) * 4096  # 1 MiB: a failed request's body must be drained


def _auth(key: str, service: str) -> str:
    return f"AWS4-HMAC-SHA256 Credential={key}/20261127/us-east-1/{service}/aws4_request"


async def test_s3_calls_retry_through_injected_errors(
    moto: MotoServer, clients: Clients, settings: Settings
) -> None:
    resources = await bootstrap(clients, settings)
    before = moto.faults.failed["s3"]
    moto.faults.fail_next("s3", 3)
    await clients.s3.put_object(Bucket=resources.bucket, Key="k", Body=BODY)
    assert moto.faults.failed["s3"] - before == 3
    got = await clients.s3.get_object(Bucket=resources.bucket, Key="k")
    assert await got["Body"].read() == BODY


async def test_dynamodb_calls_retry_through_injected_errors(
    moto: MotoServer, clients: Clients, settings: Settings
) -> None:
    store = make_store(clients, await bootstrap(clients, settings))
    before = moto.faults.failed["dynamodb"]
    moto.faults.fail_next("dynamodb", 4)
    await store.misc_put("fault-test", {"value": "kept"})
    assert moto.faults.failed["dynamodb"] - before == 4
    assert (await store.misc_get("fault-test") or {}).get("value") == "kept"


async def test_outage_outlasting_the_retries_surfaces_the_error(
    moto: MotoServer, settings: Settings
) -> None:
    impatient = settings.replace(aws_retry_s=0.5)  # 3 attempts, 0.5 s budget
    async with open_clients(impatient) as clients:
        resources = await bootstrap(clients, impatient)
        store = make_store(clients, resources)
        before = moto.faults.failed["s3"]
        moto.faults.fail("s3", seconds=120)
        moto.faults.fail("dynamodb", seconds=120)
        with pytest.raises(ClientError) as s3_error:
            await clients.s3.put_object(Bucket=resources.bucket, Key="k", Body=b"x")
        with pytest.raises(AIODynamoError):
            await store.misc_get("anything")
        # other services are never failed
        assert (await clients.sqs.list_queues()).get("QueueUrls")
        moto.faults.clear()
        await clients.s3.put_object(Bucket=resources.bucket, Key="k", Body=b"x")
    code = s3_error.value.response["Error"]["Code"]
    assert code in {"SlowDown", "InternalError"}
    assert moto.faults.failed["s3"] - before >= 3  # every attempt of the put was failed


@pytest.fixture
def gated_moto() -> Iterator[MotoServer]:
    server = MotoServer(exempt_keys=frozenset({"observer"}))
    server.start()
    yield server
    server.stop()


async def test_exempt_key_passes_during_an_outage(gated_moto: MotoServer, tmp_path: Any) -> None:
    base = Settings(
        endpoint_url=gated_moto.url,
        deployment="gate",
        home=tmp_path,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_retry_s=0.5,
    )
    observer = base.replace(aws_access_key_id="observer")
    async with open_clients(base) as clients, open_clients(observer) as exempt:
        resources = await bootstrap(exempt, observer)
        gated_moto.faults.fail("s3", seconds=120)
        await exempt.s3.put_object(Bucket=resources.bucket, Key="k", Body=b"seen")
        with pytest.raises(ClientError):
            await clients.s3.get_object(Bucket=resources.bucket, Key="k")
    assert gated_moto.faults.failed["s3"] >= 3  # only the gated client's attempts


def test_partial_outage_fails_about_its_share() -> None:
    calls: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        calls.append("moto")
        start_response("200 OK", [])
        return [b""]

    now = [0.0]
    gate = FaultGate(app, monotonic=lambda: now[0], rng=random.Random(1))
    gate.fail("dynamodb", seconds=10, probability=0.5)
    environ = {"HTTP_AUTHORIZATION": _auth("k", "dynamodb")}
    statuses = [_status(gate, environ) for _ in range(400)]
    assert 150 < statuses.count("200 OK") < 250
    now[0] = 10.0  # the outage is over
    assert {_status(gate, environ) for _ in range(50)} == {"200 OK"}
    assert _status(gate, {"HTTP_AUTHORIZATION": _auth("k", "s3")}) == "200 OK"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"HTTP_AUTHORIZATION": ""}, None),
        (
            {"HTTP_AUTHORIZATION": _auth("AK", "s3") + ", SignedHeaders=host, Signature=ab"},
            ("AK", "s3"),
        ),
        (
            {
                "QUERY_STRING": "X-Amz-Credential=AK%2F20261127%2Fus-east-1%2Fs3"
                "%2Faws4_request&X-Amz-Date=1"
            },
            ("AK", "s3"),
        ),
    ],
)
def test_signer_reads_key_and_service(environ: dict[str, Any], expected: Any) -> None:
    assert signer(environ) == expected


@pytest.mark.parametrize(
    ("service", "seconds", "probability"),
    [("ec2", 1.0, 1.0), ("s3", 0.0, 1.0), ("s3", 1.0, 0.0), ("dynamodb", 1.0, 1.5)],
)
def test_bad_outages_are_refused(service: str, seconds: float, probability: float) -> None:
    gate = FaultGate(lambda e, s: [b""])
    with pytest.raises(ValueError, match=r"outage|unknown service"):
        gate.fail(service, seconds=seconds, probability=probability)
    assert gate.active() == []


def _status(gate: FaultGate, environ: dict[str, Any]) -> str:
    seen: list[str] = []
    gate(dict(environ), lambda status, headers: seen.append(status))
    return seen[0]
