"""`cbas fault` without a running local cloud: exit 2 and say so (subprocesses, as a user
runs it; the commands against a running local cloud are in tests/integration/test_cli.py)."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

CAPACITY = ("fault", "capacity", "--zone", "all", "--type", "c5.large", "--seconds", "5")


async def _cbas(env: dict[str, str], *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cbas_async",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, err.decode()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_fault_without_a_local_cloud_exits_2(tmp_path: Path) -> None:
    env = {"CBAS_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    code, err = await _cbas(env, *CAPACITY)
    assert code == 2
    assert "CBAS_LOCAL_CONTROL_URL" in err
    assert "cbas local" in err
    stale = {**env, "CBAS_LOCAL_CONTROL_URL": f"http://127.0.0.1:{_closed_port()}"}
    code, err = await _cbas(stale, "fault", "quota", "--vcpus", "4", "--seconds", "5")
    assert code == 2
    assert "no local cloud answers" in err
