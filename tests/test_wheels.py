"""This version's wheel in the bucket: keyed by version and hash, uploaded once, found by
the master's launch config; the wheel file bootstrap uploads is checked before use."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from cbas_async import __version__
from cbas_async.aws import Clients
from cbas_async.bootstrap import bootstrap
from cbas_async.errors import ConfigError
from cbas_async.fleet.launch_config import resolve_launch_config
from cbas_async.settings import Settings
from cbas_async.wheels import find_wheel, latest_wheel_key, this_wheel, upload_wheel, wheel_key
from tests.fleet.test_launch_config import _set_up


def _wheel(folder: Path, content: bytes = b"v1", version: str = __version__) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"cbas_async-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("cbas_async/__init__.py", content)
    return path


def test_the_key_names_version_hash_and_file(tmp_path: Path) -> None:
    path = _wheel(tmp_path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert wheel_key(path) == f"wheels/{__version__}/{digest}/{path.name}"


async def test_upload_is_idempotent_and_the_newest_is_found(
    clients: Clients, settings: Settings, tmp_path: Path
) -> None:
    bucket = (await bootstrap(clients, settings)).bucket
    assert await latest_wheel_key(clients.s3, bucket) is None
    first = await upload_wheel(clients.s3, bucket, _wheel(tmp_path / "a"))
    assert await upload_wheel(clients.s3, bucket, _wheel(tmp_path / "a")) == first
    listed = await clients.s3.list_objects_v2(Bucket=bucket, Prefix="wheels/")
    assert [o["Key"] for o in listed["Contents"]] == [first]
    body = await clients.s3.get_object(Bucket=bucket, Key=first)
    assert await body["Body"].read() == (tmp_path / "a" / Path(first).name).read_bytes()
    assert await latest_wheel_key(clients.s3, bucket) == first
    assert await latest_wheel_key(clients.s3, bucket, version="0.0.0") is None


async def test_the_launch_config_names_the_uploaded_wheel(
    clients: Clients, settings: Settings, tmp_path: Path
) -> None:
    await _set_up(clients, settings)
    bucket = (await bootstrap(clients, settings)).bucket
    key = await upload_wheel(clients.s3, bucket, _wheel(tmp_path))
    assert (await resolve_launch_config(clients, settings, bucket=bucket)).wheel_key == key


def test_a_given_wheel_must_be_this_versions(tmp_path: Path) -> None:
    mine = _wheel(tmp_path / "mine")
    assert this_wheel(mine) == mine
    with pytest.raises(ConfigError, match="not a wheel of cbas-async"):
        this_wheel(_wheel(tmp_path / "old", version="0.0.1"))
    with pytest.raises(ConfigError, match="not a wheel"):
        this_wheel(tmp_path / "missing.whl")


def test_find_wheel_picks_this_version(tmp_path: Path) -> None:
    assert find_wheel(tmp_path) is None
    _wheel(tmp_path, version="0.0.1")
    assert find_wheel(tmp_path) is None
    mine = _wheel(tmp_path)
    assert find_wheel(tmp_path) == mine
