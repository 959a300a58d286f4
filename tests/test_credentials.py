"""DynamoDB runs on botocore's credential chain: profiles that aiodynamo's own chain cannot
read (credential_process, assume-role) work against the moto server."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from aiobotocore.session import get_session
from aiodynamo.credentials import Key
from aiodynamo.errors import NoCredentialsFound

from cbas_async.aws import Clients, open_clients
from cbas_async.credentials import BotocoreCredentials
from cbas_async.settings import Settings

ROLE_ARN = "arn:aws:iam::123456789012:role/test-master"
_PROCESS = """\
import json, pathlib, sys
runs = pathlib.Path(sys.argv[1])
runs.write_text(runs.read_text() + "x" if runs.exists() else "x")
print(json.dumps({"Version": 1, "AccessKeyId": "AKIDFROMPROCESS", "SecretAccessKey": "s"}))
"""


@pytest.fixture
def profiles(tmp_path: Path, moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config file with a credential_process profile and an assume-role profile."""
    script = tmp_path / "creds.py"
    script.write_text(_PROCESS)
    runs = tmp_path / "runs"
    config = tmp_path / "config"
    config.write_text(
        "[profile base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = base\n\n"
        f"[profile process]\ncredential_process = {sys.executable} {script} {runs}\n\n"
        f"[profile role]\nrole_arn = {ROLE_ARN}\nsource_profile = base\n"
        f"role_session_name = cbas-test\nendpoint_url = {moto_url}\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return runs


async def _caller_arn(key: Key, settings: Settings) -> str:
    """Whom moto's STS takes these keys for."""
    async with get_session().create_client(
        "sts",
        region_name=settings.region,
        endpoint_url=settings.endpoint_url,
        aws_access_key_id=key.id,
        aws_secret_access_key=key.secret,
        aws_session_token=key.token,
    ) as sts:
        return (await sts.get_caller_identity())["Arn"]


def _process_runs(runs: Path) -> int:
    return len(runs.read_text()) if runs.exists() else 0


async def _key(clients: Clients) -> Key:
    """The keys the DynamoDB client signs with now."""
    key = await clients.dynamo.credentials.get_key(clients.dynamo.http)
    assert isinstance(key, Key)
    return key


def _chain_only(settings: Settings) -> Settings:
    return settings.replace(aws_access_key_id=None, aws_secret_access_key=None)


async def test_a_credential_process_profile_signs_dynamodb(
    settings: Settings, profiles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "process")
    async with open_clients(_chain_only(settings)) as clients:
        await asyncio.gather(*(clients.dynamo.table_exists("test-jobs") for _ in range(5)))
        key = await _key(clients)
    assert isinstance(clients.dynamo.credentials, BotocoreCredentials)
    assert key.id == "AKIDFROMPROCESS"
    assert _process_runs(profiles) == 1  # five concurrent first calls ran it once


async def test_an_assume_role_profile_signs_dynamodb_with_the_roles_keys(
    settings: Settings, profiles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "role")
    async with open_clients(_chain_only(settings)) as clients:
        await clients.dynamo.table_exists("test-jobs")
        key = await _key(clients)
    assert key.id not in ("AKIDBASE", "testing")
    assert key.token  # temporary keys from AssumeRole carry a session token
    assert await _caller_arn(key, settings) == (
        "arn:aws:sts::123456789012:assumed-role/test-master/cbas-test"
    )


async def test_no_credentials_anywhere_fails_dynamodb_calls(
    settings: Settings, profiles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(profiles.parent / "empty-config"))
    quick = _chain_only(settings).replace(aws_retry_s=0.5)
    async with open_clients(quick) as clients:
        with pytest.raises(NoCredentialsFound):
            await clients.dynamo.table_exists("test-jobs")


async def test_explicit_keys_win_over_the_profile(
    settings: Settings, profiles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "process")
    async with open_clients(settings) as clients:
        key = await _key(clients)
    assert key.id == settings.aws_access_key_id
    assert _process_runs(profiles) == 0
