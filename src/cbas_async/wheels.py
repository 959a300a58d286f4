"""This version's wheel in the deployment's bucket, which the workers' boot script installs.

The key is `wheels/<version>/<sha256>/<file>.whl`: a rebuilt wheel of the same version gets
a key of its own, and the boot script checks the hash before installing. `cbas bootstrap`
(and the local cloud) upload it; the master names the newest one in each launch.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from botocore.exceptions import ClientError

from cbas_async import __version__
from cbas_async.errors import ConfigError

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = structlog.get_logger(__name__)

PREFIX = "wheels"
# a source checkout: the project's root, two levels above the package
PROJECT_ROOT = Path(__file__).resolve().parents[2]
BUILD_CACHE = PROJECT_ROOT / "build" / "wheels"  # git ignores build/


def wheel_key(path: Path, version: str = __version__) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return f"{PREFIX}/{version}/{digest}/{path.name}"


def find_wheel(folder: Path, version: str = __version__) -> Path | None:
    """This version's wheel in `folder` (e.g. `dist/`), if one is there."""
    found = sorted(folder.glob(f"cbas_async-{version}-*.whl"))
    return found[-1] if found else None


def this_wheel(explicit: Path | None = None) -> Path:
    """The wheel to upload: `explicit`, else one in the checkout's `dist/`, else built."""
    if explicit is not None:
        if not explicit.is_file() or not explicit.name.startswith(f"cbas_async-{__version__}-"):
            raise ConfigError("--wheel", f"{explicit}: not a wheel of cbas-async {__version__}")
        return explicit
    return find_wheel(PROJECT_ROOT / "dist") or build_wheel(BUILD_CACHE)


def build_wheel(cache: Path, project: Path = PROJECT_ROOT, version: str = __version__) -> Path:
    """`pip wheel --no-deps` of the source checkout, kept in `cache` while no source file
    is newer than it (so a test session, or `cbas local` run again, builds it once)."""
    if not (project / "pyproject.toml").is_file():
        raise ConfigError(
            "--wheel", f"{project} is not a source checkout: give this version's wheel file"
        )
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:  # one build at a time (parallel test runs)
        fcntl.flock(lock, fcntl.LOCK_EX)
        cached = find_wheel(cache, version)
        if cached is not None and cached.stat().st_mtime >= _newest_source(project):
            return cached
        return _build(cache, project, version)


def _build(cache: Path, project: Path, version: str) -> Path:
    with tempfile.TemporaryDirectory(dir=cache) as out:
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out]
        done = subprocess.run([*command, str(project)], capture_output=True, text=True, check=False)
        built = find_wheel(Path(out), version)
        if done.returncode != 0 or built is None:
            raise ConfigError("--wheel", f"pip wheel failed: {done.stderr.strip()[-500:]}")
        return built.replace(cache / built.name)


def _newest_source(project: Path) -> float:
    paths = [project / "pyproject.toml", *(project / "src").rglob("*")]
    generated = ("__pycache__", ".egg-info")  # written by imports and by the build itself
    sources = [p for p in paths if p.is_file() and not any(g in str(p) for g in generated)]
    return max(p.stat().st_mtime for p in sources)


async def upload_wheel(s3: S3Client, bucket: str, path: Path) -> str:
    """Put the wheel under its key unless it is there already; returns the key."""
    key = wheel_key(path)
    try:
        await s3.head_object(Bucket=bucket, Key=key)
        return key
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
    body = await asyncio.to_thread(path.read_bytes)
    await s3.put_object(Bucket=bucket, Key=key, Body=body)
    log.info("wheel_uploaded", bucket=bucket, key=key)
    return key


async def latest_wheel_key(s3: S3Client, bucket: str, version: str = __version__) -> str | None:
    """The newest uploaded wheel of `version`, or None when bootstrap uploaded none."""
    newest: tuple[str, str] | None = None
    paginator = s3.get_paginator("list_objects_v2")
    async for page in paginator.paginate(Bucket=bucket, Prefix=f"{PREFIX}/{version}/"):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".whl"):
                stamp = (item["LastModified"].isoformat(), item["Key"])
                newest = max(newest, stamp) if newest else stamp
    return newest[1] if newest else None
