"""The unprivileged user a job runs as when the worker runs as root (`cbas-job`).

On an instance the boot script creates the user; wherever it is missing (the local cloud,
a test machine run as root) the worker creates it with `useradd --system`. A worker that
is not root cannot switch users: its job then runs as the worker's own user, and the
worker says so in its log.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

JOB_USER = "cbas-job"
_USERADD = ("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin")


@dataclass(frozen=True, slots=True)
class JobUser:
    """Who the job's processes run as."""

    name: str
    uid: int
    gid: int


class JobUserUnavailable(Exception):
    """The worker is root but there is no job user and none could be created."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def setpriv_options(user: JobUser) -> list[str]:
    """What makes `setpriv` run its command as `user`, with no supplementary groups (the
    worker's event loop, uvloop, cannot switch users itself)."""
    return ["--reuid", str(user.uid), "--regid", str(user.gid), "--clear-groups"]


def as_user(argv: Sequence[str], user: JobUser | None) -> list[str]:
    """`argv`, run as `user` when one is given; `FileNotFoundError` without `setpriv`."""
    if user is None:
        return list(argv)
    return [_setpriv(), *setpriv_options(user), "--", *argv]


def _setpriv() -> str:
    found = shutil.which("setpriv")
    if found is None:
        raise FileNotFoundError(2, "setpriv (util-linux) runs jobs as their user", "setpriv")
    return found


def lookup(name: str) -> JobUser | None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return JobUser(name=name, uid=entry.pw_uid, gid=entry.pw_gid)


def create(name: str) -> str:
    """Run `useradd`; returns its complaint ("" on success). Another worker may win the
    race to create the user, so the caller looks the user up again either way."""
    try:
        done = subprocess.run(
            [*_USERADD, name], capture_output=True, text=True, check=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return repr(exc)
    return "" if done.returncode == 0 else done.stderr.strip() or f"exit {done.returncode}"


def resolve_job_user(
    *,
    euid: int,
    name: str = JOB_USER,
    make: Callable[[str], str] = create,
) -> JobUser | None:
    """The job user (created if missing) when `euid` is root; None otherwise: isolation is
    off. Blocking: call it in a thread. Raises `JobUserUnavailable` when root has no user."""
    if euid != 0:
        log.warning("job_isolation_off", reason="the worker is not root", uid=euid)
        return None
    user = lookup(name)
    if user is None:
        complaint = make(name)
        user = lookup(name)
        log.info("job_user_created", user=name, complaint=complaint or None)
        if user is None:
            raise JobUserUnavailable(f"no user {name!r} and useradd failed: {complaint}")
    if user.uid == 0:
        raise JobUserUnavailable(f"user {name!r} is root: refusing to run jobs as it")
    if shutil.which("setpriv") is None:
        raise JobUserUnavailable("no setpriv (util-linux) to run the job as its user")
    return user


def blocked_ancestor(path: Path, user: JobUser) -> Path | None:
    """The first directory on the way to `path` that `user` may not traverse, or None.
    Blocking (stats every ancestor)."""
    groups = {user.gid, *os.getgrouplist(user.name, user.gid)}
    for directory in [*reversed(path.absolute().parents), path.absolute()]:
        if not may_traverse(directory.stat(), user.uid, groups):
            return directory
    return None


def may_traverse(st: os.stat_result, uid: int, groups: set[int]) -> bool:
    """Whether a process of `uid` in `groups` may search the directory `st` describes."""
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid in groups:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)
