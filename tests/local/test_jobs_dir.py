"""The local instances' job folder is reachable by the unprivileged job user."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from cbas_async.local.jobs_dir import jobs_dir
from cbas_async.settings import Settings


def _others_enter(path: Path) -> bool:
    return all(d.stat().st_mode & stat.S_IXOTH for d in (*path.parents, path) if d.exists())


def test_a_private_home_of_ours_is_opened_for_traversal(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    found = jobs_dir(Settings(home=home, deployment="d"))
    assert found == home.absolute() / "jobs"
    assert stat.S_IMODE(home.stat().st_mode) & 0o711 == 0o711


@pytest.mark.skipif(os.geteuid() != 0, reason="jobs run as another user only under root")
def test_a_home_behind_a_closed_folder_moves_the_jobs_to_the_temp_folder(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir()
    home = closed / "home"
    home.mkdir()
    other = os.stat("/").st_uid + 1  # a folder not ours, as root's 0700 home is to a job
    os.chown(closed, other, -1)
    closed.chmod(0o700)
    found = jobs_dir(Settings(home=home, deployment="d"))
    assert found.parent == Path(tempfile.gettempdir())
    assert found.name.startswith("cbas-jobs-d-")
    assert _others_enter(found.parent)
    assert found == jobs_dir(Settings(home=home, deployment="d"))  # stable for one home
