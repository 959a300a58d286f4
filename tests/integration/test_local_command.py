"""`cbas local` as a user runs it: local.env for a second shell, forced SNS verification,
and a clean stop on Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from cbas_async import localenv
from cbas_async.clock import SystemClock
from tests.sns_signing import SnsSigner, to_body

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def until(check, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
    clock = SystemClock()
    deadline = clock.monotonic() + timeout_s
    while not await check():
        assert clock.monotonic() < deadline, "condition not met in time"
        await clock.sleep(0.2)


async def test_local_env_second_shell_forced_verification_and_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CBAS_"))} | {
        "CBAS_HOME": str(tmp_path),
        "CBAS_SNS_VERIFY": "true",
        "CBAS_DEPLOYMENT": "localcmd",
    }
    local = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cbas_async",
        "local",
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        env_file = tmp_path / localenv.FILE_NAME

        async def ready() -> bool:
            return env_file.is_file()

        await until(ready, 60)
        written = localenv.read(env_file)
        assert written["CBAS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        assert written["CBAS_SNS_VERIFY"] == "true"
        assert written["CBAS_API_URL"] == f"http://127.0.0.1:{port}"
        await _master_up(f"http://127.0.0.1:{port}")
        second_shell = {"CBAS_HOME": str(tmp_path), "PATH": os.environ.get("PATH", "")}
        assert await _list(second_shell) == []  # through the master's API
        assert await _list({**second_shell, "CBAS_API_URL": ""}) == []  # straight to moto
        await _forged_messages_are_refused(port)
    finally:
        local.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(local.wait(), timeout=60)
    assert code == 0


async def _list(env: dict[str, str]) -> object:
    listing = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cbas_async",
        "list",
        "--json",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await listing.communicate()
    assert listing.returncode == 0, err.decode()
    return json.loads(out)


async def _master_up(url: str) -> None:
    async with aiohttp.ClientSession() as http:

        async def master_up() -> bool:
            try:
                async with http.get(f"{url}/healthz") as response:
                    return response.status in (200, 503)
            except aiohttp.ClientConnectionError:
                return False

        await until(master_up, 60)


async def _forged_messages_are_refused(port: int) -> None:
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        # forged: signed with the forger's own certificate, served from the forger's host (a
        # message naming AWS's host would need the certificate fetched; offline that is a
        # 503 so that a genuine SNS retries)
        signer = SnsSigner.create(
            cert_url="https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-1.pem"
        )
        topic = "arn:aws:sns:us-east-1:123456789012:localcmd-spot-events"
        warning = json.dumps(
            {
                "detail-type": "EC2 Spot Instance Interruption Warning",
                "detail": {"instance-id": "i-1"},
            }
        )
        for version in ("1", "2"):
            body = to_body(signer.notification(topic_arn=topic, message=warning, version=version))
            async with http.post(f"{url}/sns", data=body) as response:
                assert response.status == 403
        unsigned = signer.notification(topic_arn=topic, message=warning)
        del unsigned["Signature"]
        async with http.post(f"{url}/sns", data=to_body(unsigned)) as response:
            assert response.status == 403
        async with http.post(f"{url}/sns", data=b"x" * 300_000) as response:
            assert response.status == 413
