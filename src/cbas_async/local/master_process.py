"""`cbas master` as a child process of the local cloud, so it can be killed with -9 and
started again while the local AWS keeps its state."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)


class MasterProcess:
    """`cbas master` as a child process; SIGTERM on shutdown (it then exits gracefully)."""

    name = "master-process"

    def __init__(self, *, env: dict[str, str], port: int, log_path: Path) -> None:
        self._env = {**env, "CBAS_HTTP_PORT": str(port)}
        self._log_path = log_path
        self.process: asyncio.subprocess.Process | None = None

    async def run(self, stopping: asyncio.Event) -> None:
        with self._log_path.open("ab") as sink:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "cbas_async",
                "master",
                env=self._env,
                stdout=sink,
                stderr=sink,
            )
        log.info("master_process_started", pid=self.process.pid)
        try:
            await stopping.wait()
        finally:  # also when cancelled: never leave an orphan master behind
            if self.process.returncode is None:
                self.process.send_signal(signal.SIGTERM)
            await asyncio.shield(self.process.wait())


def region_masters(
    env: dict[str, str], regions: Sequence[str], *, port: int, home: Path
) -> list[MasterProcess]:
    """One master per region (`CBAS_REGION`), all on the home region's tables. The home
    region's serves `port` (the API that local.env names) and logs to `master.log`; the
    others take a free port and log to `master-<region>.log`."""
    masters = []
    for n, region in enumerate(regions):
        log_path = home / ("master.log" if n == 0 else f"master-{region}.log")
        masters.append(
            MasterProcess(
                env={**env, "CBAS_REGION": region}, port=port if n == 0 else 0, log_path=log_path
            )
        )
    return masters
