"""The `app` checkpoint method: the job keeps its own state in `$CBAS_CHECKPOINT_DIR`.

Periodic snapshots hard-link that directory as it is (the job writes by temp file + rename,
so linked files never change); the final one first sends SIGTERM and waits for the job to
save and exit. Restoring is unpacking the directory before the job starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from cbas_async.records import CheckpointPointer
from cbas_async.worker.checkpoint.archive import link_snapshot
from cbas_async.worker.checkpoint.base import JobHandle


class AppCheckpointer:
    """Snapshots the job's own state directory."""

    method = "app"

    def __init__(self, *, state_dir: Path, staging_dir: Path) -> None:
        self._state_dir = state_dir
        self._staging_dir = staging_dir

    async def prepare(self) -> None:
        return None

    def extra(self) -> dict[str, str]:
        return {}

    def accepts(self, pointer: CheckpointPointer) -> bool:
        return pointer.method == self.method

    def environment(self) -> dict[str, str]:
        return {}

    async def launch_argv(self, command: Sequence[str]) -> list[str]:
        return list(command)

    async def snapshot(self, job: JobHandle) -> Path | None:
        await asyncio.to_thread(link_snapshot, self._state_dir, self._staging_dir)
        return self._staging_dir

    async def final_snapshot(self, job: JobHandle, budget_s: float) -> Path | None:
        await job.stop(budget_s)
        return self._state_dir

    async def close(self) -> None:
        return None
