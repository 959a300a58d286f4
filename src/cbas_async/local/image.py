"""The local cloud's worker image and instance roots.

Each local instance has a directory of its own standing for its disk: the boot script runs
with `CBAS_INSTANCE_ROOT` set to it, so its `/opt`, `/etc` and `/var` land there. The image
puts into that root what a baked EC2 image would have:

- `/opt/cbas/<version>`: a symlink to this Python's virtual environment, which has this
  version installed (so the boot script skips the install, and nothing is pip-installed
  per instance);
- `/etc/cbas/host.env`: what differs about a local host (where IMDS answers, loopback
  addresses, the shared jobs folder, no poweroff); absent on EC2;
- `/var/lib/cloud/instance/user-data.txt`: the user data, where cloud-init keeps it.

The boot script runs with a clean environment (`boot_environment`): the standard PATH
behind a folder of shims standing in for the host's `systemctl` (recorded, for the
emulated systemd), `iptables` (recorded: the host's firewall is left alone) and
`shutdown`/`poweroff` (which must never reach the machine running the local cloud).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from cbas_async import __version__
from cbas_async.hostpath import HOST_PATH, unpacked_bin
from cbas_async.settings import Settings

SYSTEMCTL_CALLS = "var/log/systemctl.calls"
IPTABLES_RULES = "var/log/iptables.rules"
USER_DATA = "var/lib/cloud/instance/user-data.txt"
HOST_ENV = "etc/cbas/host.env"

_SHIMS = {
    "systemctl": """#!/bin/sh
# the local cloud's systemd: records the call; the hypervisor starts the enabled units
echo "$*" >> "${CBAS_INSTANCE_ROOT:?}/%(calls)s"
""",
    "iptables": """#!/bin/sh
# the local cloud's firewall: rules are recorded per instance, the host's are untouched
rules="${CBAS_INSTANCE_ROOT:?}/%(rules)s"
case "$1" in
  -C) shift; grep -qxF -- "$*" "$rules" 2>/dev/null ;;
  -A) shift; echo "$*" >> "$rules" ;;
  *) exit 0 ;;
esac
""",
    "shutdown": """#!/bin/sh
echo "local instance: $0 $* ignored (the hypervisor powers off)" >&2
""",
}
_SHIMS["poweroff"] = _SHIMS["shutdown"]


def write_shims(folder: Path) -> None:
    """The shim programs, put first on every instance PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in _SHIMS.items():
        path = folder / name
        path.write_text(text % {"calls": SYSTEMCTL_CALLS, "rules": IPTABLES_RULES})
        path.chmod(0o755)


def prepare_root(
    root: Path,
    *,
    user_data: str,
    host_env: Mapping[str, str],
    venv: Path | None = None,
    version: str = __version__,
) -> None:
    """Lay the image and this instance's user data into `root`."""
    opt = root / "opt" / "cbas"
    opt.mkdir(parents=True, exist_ok=True)
    if not (opt / version).exists():
        (opt / version).symlink_to((venv or Path(sys.prefix)).absolute())
    for folder in ("etc/cbas", "var/log", "var/lib/cloud/instance", "root"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / HOST_ENV).write_text("".join(f"{k}={v}\n" for k, v in sorted(host_env.items())))
    data = root / USER_DATA
    data.write_text(user_data)
    os.chmod(data, 0o600)


def host_env(settings: Settings, *, jobs_dir: Path) -> dict[str, str]:
    """The local image's `/etc/cbas/host.env`: loopback addresses, the shared jobs folder,
    the DMTCP tools, the market's speed; no poweroff (the hypervisor powers off)."""
    dmtcp_bin = settings.dmtcp_bin or unpacked_bin()  # not our PATH
    return {
        "CBAS_HTTP_HOST": "127.0.0.1",
        "CBAS_WORKER_ADVERTISE_HOST": "127.0.0.1",
        "CBAS_WORKER_POWEROFF": "false",
        "CBAS_WORKER_DIR": str(jobs_dir.absolute()),
        "CBAS_DMTCP_BIN": str(dmtcp_bin.absolute()) if dmtcp_bin else "",
        "CBAS_SPEED": str(settings.speed),
    }


def instance_path(shims: Path) -> str:
    return f"{shims}:{HOST_PATH}"


def boot_environment(root: Path, shims: Path) -> dict[str, str]:
    """All the boot script gets: no AWS keys, nothing of the local cloud's own process."""
    return {
        "PATH": instance_path(shims),
        "HOME": str(root / "root"),
        "LANG": "C.UTF-8",
        "CBAS_INSTANCE_ROOT": str(root),
    }
