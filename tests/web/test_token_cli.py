"""`cbas token create | list | revoke` in a subprocess: the API accepts a created token and
refuses a revoked one; only hashes are stored and nothing shows a secret."""

from __future__ import annotations

import asyncio
import json
import sys

from cbas_async.clock import SystemClock
from cbas_async.web.auth import KEY_PREFIX, TokenStore
from tests.web.conftest import Api
from tests.web.helpers import spec


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
    stored = await api.store.token_scan_prefix(KEY_PREFIX)
    assert token not in repr(stored)
    assert {item["name"] for item in stored} >= {"laptop"}
    status, _ = await api.call("GET", "/api/v1/workers", token=token)
    assert status == 200


async def cbas(api: Api, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `cbas <args>` in a subprocess, against `api`'s tables."""
    env = {**api.cloud.settings.to_env(), "CBAS_HOME": str(api.cloud.settings.home)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cbas_async", *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_token_create_list_and_revoke(api: Api) -> None:
    code, out, err = await cbas(
        api, "token", "create", "--name", "ci", "--owner", "carol", "--json"
    )
    assert code == 0, err
    created = json.loads(out)
    assert {k: created[k] for k in ("name", "owner", "role")} == {
        "name": "ci",
        "owner": "carol",
        "role": "user",
    }
    assert created["created_at"]
    token = created["token"]
    status, body = await api.call("POST", "/api/v1/jobs", json=spec(), token=token)
    assert status == 201
    assert body["submitted_by"] == "carol"

    code, out, err = await cbas(api, "token", "list", "--json")
    assert code == 0, err
    listed = {t["name"]: t for t in json.loads(out)}
    assert (listed["ci"]["owner"], listed["ci"]["role"]) == ("carol", "user")
    assert listed["test"]["role"] == "admin"
    code, text, _ = await cbas(api, "token", "list")
    assert code == 0
    assert "ci" in text
    assert "carol" in text
    items = await api.store.token_scan_prefix(KEY_PREFIX)
    for shown in (out, text):
        assert token.split("_", 2)[2] not in shown
        assert all(item["hash"] not in shown for item in items)

    code, out, err = await cbas(api, "token", "revoke", "ci")
    assert code == 0, err
    status, _ = await api.call("GET", "/api/v1/jobs", token=token)
    assert status == 401
    code, out, _ = await cbas(api, "token", "list", "--json")
    assert "ci" not in {t["name"] for t in json.loads(out)}


async def test_a_taken_name_is_refused_and_changes_nothing(api: Api) -> None:
    code, _, err = await cbas(api, "token", "create", "--name", "dup", "--role", "admin")
    assert code == 0, err
    before = await api.store.token_scan_prefix("api-token")
    code, out, err = await cbas(api, "token", "create", "--name", "dup")
    assert code == 2
    assert out == ""
    assert "exists already" in err
    assert await api.store.token_scan_prefix("api-token") == before
    code, _, err = await cbas(api, "token", "create", "--name", "test")  # the fixture's
    assert code == 2, err


async def test_revoking_an_unknown_name_says_so(api: Api) -> None:
    code, out, err = await cbas(api, "token", "revoke", "nobody")
    assert code == 4
    assert out == ""
    assert "no token named 'nobody'" in err


async def test_a_bad_name_is_refused(api: Api) -> None:
    code, _, err = await cbas(api, "token", "create", "--name", "bad/name")
    assert code == 2
    assert "bad token name" in err
