"""A job's private directories on the worker's host.

They sit at `<base>/<job_id>/…`, the same absolute paths on every host and every attempt,
because DMTCP images only restore where they were taken.

When the job runs as its own user, `work`, `state` and `tmp` are that user's (0700) and
the rest is the worker's (0700, root): the job's root directory is 0711, so the job
reaches its own directories by path but cannot list or enter the worker's.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from cbas_async.worker.jobuser import JobUser, blocked_ancestor


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

    @property
    def job_owned(self) -> tuple[Path, ...]:
        """What the job may write: its sandbox, its checkpoint state, DMTCP's scratch."""
        return (self.work, self.state, self.tmp)

    @property
    def worker_owned(self) -> tuple[Path, ...]:
        return (self.logs, self.staging, self.download)

    def reset(self, user: JobUser | None = None) -> None:
        """Start from empty directories, as on a fresh instance (blocking: call in a thread).
        With `user`, the job root is 0711 and the worker's directories 0700."""
        shutil.rmtree(self.root, ignore_errors=True)
        for path in (*self.job_owned, *self.worker_owned):
            path.mkdir(parents=True)
        if user is not None:
            os.chmod(self.root, 0o711)
            for path in self.worker_owned:
                os.chmod(path, 0o700)

    def hand_over(self, user: JobUser) -> Path | None:
        """Give everything under the job's directories to `user` (after inputs and a
        checkpoint were unpacked into them as root; links are changed, never followed).
        Returns the first directory above `work` that `user` cannot traverse, if any."""
        for top in self.job_owned:
            os.chmod(top, 0o700)
            os.lchown(top, user.uid, user.gid)
            for folder, dirs, files in os.walk(top):
                for name in [*dirs, *files]:
                    os.lchown(os.path.join(folder, name), user.uid, user.gid)
        return blocked_ancestor(self.work, user)
