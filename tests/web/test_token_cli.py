"""`cbas token create` prints a token that the API then accepts; only its hash is stored."""

from __future__ import annotations

import asyncio
import sys

from cbas_async.clock import SystemClock
from cbas_async.web.auth import KEY_PREFIX, TokenStore
from tests.web.conftest import Api


async def test_token_create_prints_a_working_token(api: Api) -> None:
    env = {**api.cloud.settings.to_env(), "CBAS_HOME": str(api.cloud.settings.home)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cbas_async", "token", "create", "--name", "laptop",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    token = out.decode().strip()
    assert await TokenStore(store=api.store, clock=SystemClock()).verify(token) is not None
    stored = await api.store.misc_scan_prefix(KEY_PREFIX)
    assert token not in repr(stored)
    assert {item["name"] for item in stored} >= {"laptop"}
    status, _ = await api.call("GET", "/api/v1/workers", token=token)
    assert status == 200
