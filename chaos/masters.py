"""Master processes for the chaos run: started beside each other, killed with -9."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path


class Masters:
    """Each `start()` is a new `cbas master` with a master id of its own, in the region it
    is given (none: the environment's)."""

    def __init__(self, env: dict[str, str], home: Path) -> None:
        self._env = env
        self._home = home
        self.processes: list[asyncio.subprocess.Process] = []
        self.region_of: dict[int, str | None] = {}  # by pid

    @property
    def live(self) -> list[asyncio.subprocess.Process]:
        return [p for p in self.processes if p.returncode is None]

    def live_in(self, region: str | None) -> list[asyncio.subprocess.Process]:
        return [p for p in self.live if self.region_of.get(p.pid) == region]

    async def start(self, region: str | None = None) -> asyncio.subprocess.Process:
        n = len(self.processes)
        env = {**self._env, "CBAS_MASTER_ID": f"m-chaos{n}", "CBAS_HTTP_PORT": "0"}
        if region is not None:
            env["CBAS_REGION"] = region
        with (self._home / f"master-{n}.log").open("ab") as sink:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "cbas_async", "master", env=env, stdout=sink, stderr=sink
            )
        self.processes.append(process)
        self.region_of[process.pid] = region
        return process

    async def kill(self, process: asyncio.subprocess.Process) -> None:
        """kill -9: no lease release, no unsubscribe, nothing flushed."""
        if process.returncode is None:
            process.kill()
        await process.wait()

    async def stop_all(self, grace_s: float = 15.0) -> None:
        for process in self.live:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                await asyncio.wait_for(process.wait(), timeout=grace_s)
            except TimeoutError:
                await self.kill(process)
