"""The checkpointer interface: how one method launches, snapshots, stops and restores a job."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from cbas_async.errors import PermanentError
from cbas_async.records import CheckpointPointer


class CheckpointUnavailable(PermanentError):
    """This host cannot run the checkpoint method the job asks for; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class JobHandle(Protocol):
    """What a checkpointer may do to the running job."""

    @property
    def returncode(self) -> int | None: ...

    def signal(self, signum: int) -> None: ...

    def stopping(self) -> None:
        """The worker is about to stop the job by other means than a signal (DMTCP's
        coordinator ends it with exit code 0): its end is not the job finishing."""

    async def stop(self, grace_s: float) -> int: ...


class Checkpointer(Protocol):
    """One checkpoint method. Its state lives in one directory, restored before launch."""

    @property
    def method(self) -> str: ...

    async def prepare(self) -> None:
        """Check the host can use the method (else `CheckpointUnavailable`), learn its facts."""

    def extra(self) -> dict[str, str]:
        """Facts recorded with each checkpoint pointer (e.g. the DMTCP version)."""

    def accepts(self, pointer: CheckpointPointer) -> bool:
        """Whether a stored checkpoint can be restored here."""

    def environment(self) -> dict[str, str]:
        """Variables the job needs on top of its own."""

    async def launch_argv(self, command: Sequence[str]) -> list[str]:
        """The argv that starts the job, or resumes it from a restored state directory."""

    async def snapshot(self, job: JobHandle) -> Path | None:
        """A directory holding the job's state now, the job still running; None: nothing."""

    async def final_snapshot(self, job: JobHandle, budget_s: float) -> Path | None:
        """The last state before the instance goes, within `budget_s`; may stop the job."""

    async def close(self) -> None:
        """Release what launching acquired (a coordinator)."""
