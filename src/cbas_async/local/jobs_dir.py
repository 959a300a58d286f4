"""The folder of the local instances' job sandboxes. Jobs run as an unprivileged user
(worker/jobuser.py) when the local cloud runs as root, so every folder on the way to it
must let other users in: root's own home (0700) does not."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

import structlog

from cbas_async.settings import Settings

log = structlog.get_logger(__name__)


def jobs_dir(settings: Settings) -> Path:
    """Where the instances' job folders live: `<home>/jobs` when an unprivileged job user
    can reach it (the home is made 0711 when it is ours), else a folder of this deployment
    under the system's temp folder (root's home is 0700; jobs run as another user)."""
    home = settings.home.absolute()
    home.mkdir(parents=True, exist_ok=True)
    if home.stat().st_uid == os.geteuid():
        home.chmod(home.stat().st_mode | 0o711)
    if os.geteuid() != 0 or all(_others_may_enter(d) for d in (*home.parents, home)):
        return home / "jobs"
    digest = hashlib.sha256(str(home).encode()).hexdigest()[:8]
    moved = Path(tempfile.gettempdir()) / f"cbas-jobs-{settings.deployment}-{digest}"
    log.info("jobs_dir_outside_home", home=str(home), jobs_dir=str(moved))
    return moved


def _others_may_enter(directory: Path) -> bool:
    return bool(directory.stat().st_mode & stat.S_IXOTH)
