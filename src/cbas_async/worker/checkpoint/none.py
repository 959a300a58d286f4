"""The `none` checkpoint method: nothing is saved, an interrupted job reruns from the start."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cbas_async.records import CheckpointPointer
from cbas_async.worker.checkpoint.base import JobHandle


class NoCheckpointer:
    """Runs the command as is and never saves anything."""

    method = "none"

    async def prepare(self) -> None:
        return None

    def extra(self) -> dict[str, str]:
        return {}

    def accepts(self, pointer: CheckpointPointer) -> bool:
        return False

    def environment(self) -> dict[str, str]:
        return {}

    async def launch_argv(self, command: Sequence[str]) -> list[str]:
        return list(command)

    async def snapshot(self, job: JobHandle) -> Path | None:
        return None

    async def final_snapshot(self, job: JobHandle, budget_s: float) -> Path | None:
        return None

    async def close(self) -> None:
        return None
