"""The primes example as tests use it: small numbers, its log parsed into chunks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.worker.helpers import EXAMPLES

PROGRAM = (EXAMPLES / "primes_app" / "primes.py").read_bytes()
LIMIT = 2_000_000
CHUNK = 25_000  # 80 chunks
PAUSE_S = 0.1  # so the job takes about 8 s, whatever the machine


def spec(
    *, limit: int = LIMIT, chunk: int = CHUNK, pause_s: float = PAUSE_S, method: str = "app"
) -> dict[str, Any]:
    return {
        "name": "primes",
        "command": ["python3", "primes.py", str(limit)],
        "input_files": ["primes.py"],
        "output_files": ["result.txt"],
        "env": {"CHUNK": str(chunk), "PAUSE_S": str(pause_s)},
        "checkpoint": {"method": method, "interval_s": 1},
        "max_attempts": 10,
    }


def uninterrupted_result(workdir: Path, *, limit: int = LIMIT, chunk: int = CHUNK) -> bytes:
    """result.txt of a plain run, without checkpoints or pauses."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "primes.py").write_bytes(PROGRAM)
    env = {"PATH": os.environ["PATH"], "CHUNK": str(chunk)}
    subprocess.run(
        [sys.executable, "primes.py", str(limit)], cwd=workdir, env=env, check=True, stdout=-3
    )
    return (workdir / "result.txt").read_bytes()


def chunks(log: str) -> list[tuple[int, float]]:
    """(start of chunk, seconds it took) for every `chunk LO HI FOUND SECONDS` line."""
    found = []
    for line in log.splitlines():
        parts = line.split()
        if len(parts) == 5 and parts[0] == "chunk":
            found.append((int(parts[1]), float(parts[4])))
    return found


def redone_s(earlier_logs: list[str], log: str) -> float:
    """Seconds this attempt spent on chunks an earlier attempt had already logged."""
    done = {lo for earlier in earlier_logs for lo, _ in chunks(earlier)}
    return sum(seconds for lo, seconds in chunks(log) if lo in done)
