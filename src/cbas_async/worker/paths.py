"""A job's private directories on the worker's host.

They sit at `<base>/<job_id>/…`, the same absolute paths on every host and every attempt,
because DMTCP images only restore where they were taken.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class JobPaths:
    """Where one job's sandbox, checkpoint state, logs and scratch space live."""

    root: Path

    @classmethod
    def under(cls, base: Path, job_id: str) -> JobPaths:
        return cls(base.absolute() / job_id)

    @property
    def work(self) -> Path:
        """The job's sandbox: its inputs, its working directory, its outputs."""
        return self.root / "work"

    @property
    def state(self) -> Path:
        """`$CBAS_CHECKPOINT_DIR`, and DMTCP's `--ckptdir`: what a checkpoint saves."""
        return self.root / "state"

    @property
    def tmp(self) -> Path:
        """Private scratch (DMTCP_TMPDIR)."""
        return self.root / "tmp"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def staging(self) -> Path:
        """Where a snapshot of `state` is assembled before it is packed."""
        return self.root / "staging"

    @property
    def download(self) -> Path:
        """Where a checkpoint archive lands before it is checked and unpacked."""
        return self.root / "download"

    @property
    def stdout(self) -> Path:
        return self.logs / "stdout"

    @property
    def stderr(self) -> Path:
        return self.logs / "stderr"

    def reset(self) -> None:
        """Start from empty directories, as on a fresh instance (blocking: call in a thread)."""
        shutil.rmtree(self.root, ignore_errors=True)
        for path in (self.work, self.state, self.tmp, self.logs, self.staging, self.download):
            path.mkdir(parents=True)
