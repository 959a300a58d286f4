"""The job's user: who it is, when isolation is off, what it may reach on the host."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cbas_async.worker.jobuser import (
    JOB_USER,
    JobUser,
    JobUserUnavailable,
    as_user,
    blocked_ancestor,
    may_traverse,
    resolve_job_user,
    setpriv_options,
)
from cbas_async.worker.paths import JobPaths
from cbas_async.worker.runner import orphan_guard

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="only root can give files away")
NOBODY = JobUser(name="nobody", uid=65534, gid=65534)


def _stat(uid: int, gid: int, mode: int) -> os.stat_result:
    return os.stat_result((stat.S_IFDIR | mode, 0, 0, 2, uid, gid, 0, 0, 0, 0))


@pytest.mark.parametrize(
    ("uid", "gid", "mode", "allowed"),
    [
        (0, 0, 0o700, False),  # root's own, closed
        (0, 0, 0o711, True),  # root's, searchable by others
        (0, 7, 0o710, True),  # the group's search bit, and the user is in group 7
        (0, 8, 0o710, False),
        (5, 0, 0o700, True),  # the user's own
        (5, 0, 0o077, False),  # the owner's bits count for the owner, not the others'
    ],
)
def test_may_traverse_reads_the_bits_that_apply(
    uid: int, gid: int, mode: int, allowed: bool
) -> None:
    assert may_traverse(_stat(uid, gid, mode), 5, {6, 7}) is allowed


def test_a_worker_that_is_not_root_runs_jobs_as_itself() -> None:
    made: list[str] = []
    assert resolve_job_user(euid=1000, make=lambda name: made.append(name) or "") is None
    assert made == []


def test_root_without_a_creatable_user_refuses_to_run_the_job() -> None:
    with pytest.raises(JobUserUnavailable, match="useradd failed: no shadow"):
        resolve_job_user(euid=0, name="cbas-no-such-user", make=lambda _: "no shadow")


def test_root_refuses_a_job_user_that_is_root() -> None:
    with pytest.raises(JobUserUnavailable, match="is root"):
        resolve_job_user(euid=0, name="root")


@ROOT_ONLY
def test_root_finds_or_creates_the_job_user() -> None:
    user = resolve_job_user(euid=0)
    assert user is not None
    assert (user.name, user.uid != 0) == (JOB_USER, True)


def test_the_job_switches_user_through_setpriv_with_no_groups() -> None:
    assert as_user(["x"], None) == ["x"]
    switched = as_user(["x"], NOBODY)
    assert switched[1:] == ["--reuid", "65534", "--regid", "65534", "--clear-groups", "--", "x"]
    guarded = orphan_guard(["x"], NOBODY)
    assert guarded[-7:] == switched[1:]
    assert guarded[:3] == ["setpriv", "--pdeathsig", "KILL"]
    assert setpriv_options(NOBODY) == switched[1:6]


def test_a_closed_folder_on_the_way_is_named(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    (closed / "inner").mkdir(parents=True)
    closed.chmod(0o700)
    assert blocked_ancestor(closed / "inner", NOBODY) == closed
    closed.chmod(0o711)
    assert blocked_ancestor(closed / "inner", NOBODY) in (None, *tmp_path.parents, tmp_path)


@ROOT_ONLY
def test_the_job_owns_its_folders_and_not_the_workers(tmp_path: Path) -> None:
    paths = JobPaths.under(tmp_path, "j-1")
    paths.reset(NOBODY)
    (paths.work / "input.txt").write_text("in")
    (paths.state / "old").mkdir()
    (paths.work / "link").symlink_to("/etc/passwd")
    passwd_owner = Path("/etc/passwd").stat().st_uid
    paths.hand_over(NOBODY)
    assert stat.S_IMODE(paths.root.stat().st_mode) == 0o711
    for path in paths.job_owned:
        assert (path.stat().st_uid, stat.S_IMODE(path.stat().st_mode)) == (65534, 0o700)
    for path in paths.worker_owned:
        assert (path.stat().st_uid, stat.S_IMODE(path.stat().st_mode)) == (0, 0o700)
    assert (paths.work / "input.txt").stat().st_uid == 65534
    assert (paths.state / "old").stat().st_uid == 65534
    assert (paths.work / "link").lstat().st_uid == 65534
    assert Path("/etc/passwd").stat().st_uid == passwd_owner  # links are not followed
