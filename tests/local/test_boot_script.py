"""The boot script, run for real in a temporary instance root against a local image that
has this version (the skip-install path), with recording shims for the host's
`systemctl`, `iptables` and `useradd`: nothing on this machine changes."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from cbas_async import __version__
from cbas_async.fleet.userdata import BootTarget, document, shell_part
from cbas_async.local.image import (
    IPTABLES_RULES,
    boot_environment,
    host_env,
    prepare_root,
    write_shims,
)
from cbas_async.local.systemd import started_units
from cbas_async.settings import Settings
from tests.fleet.test_userdata import _descriptor

IMDS = "http://127.0.0.1:9/i-1"
_FAKE_USERS = """#!/bin/sh
case "$(basename "$0")" in
  id) exit 1 ;;
  useradd) echo "$*" >> "$CBAS_INSTANCE_ROOT/var/log/useradd.calls" ;;
esac
"""


def _boot(tmp: Path, root: Path, user_data: str) -> subprocess.CompletedProcess[str]:
    shims, users = tmp / "shims", tmp / "users"
    write_shims(shims)
    users.mkdir(exist_ok=True)
    for name in ("id", "useradd"):
        (users / name).write_text(_FAKE_USERS)
        (users / name).chmod(0o755)
    script = root / "part-001"
    script.write_text(shell_part(user_data) or "")
    env = boot_environment(root, shims)
    env["PATH"] = f"{users}:{env['PATH']}"
    return subprocess.run(
        ["sh", str(script)], env=env, cwd=root, capture_output=True, text=True, timeout=30
    )


def test_an_image_with_this_version_boots_without_installing(tmp_path: Path) -> None:
    descriptor = _descriptor()
    user_data = document(descriptor, BootTarget(wheel_key="wheels/x/y/z.whl"))
    root = tmp_path / "i-1"
    host_env = {"CBAS_IMDS_ENDPOINT": IMDS, "CBAS_WORKER_ADVERTISE_HOST": "127.0.0.1"}
    prepare_root(root, user_data=user_data, host_env=host_env)
    again = _boot(tmp_path, root, user_data)
    assert again.returncode == 0, again.stderr
    done = _boot(tmp_path, root, user_data)  # a second run adds nothing (one rule, one unit)
    assert done.returncode == 0, done.stderr
    assert f"cbas-async {__version__} is on the image" in done.stderr
    assert "installing" not in done.stderr

    job = root / "etc/cbas/job.json"
    assert stat.S_IMODE(job.stat().st_mode) == 0o600
    assert job.read_text() == descriptor.model_dump_json()

    [unit] = started_units(root)
    assert unit.name == "cbas-worker.service"
    assert unit.exec_start == [
        f"{root}/opt/cbas/{__version__}/bin/python",
        "-m",
        "cbas_async",
        "worker",
    ]
    assert unit.restart_on_failure
    assert unit.environment == {
        "CBAS_HTTP_HOST": "0.0.0.0",
        "CBAS_WORKER_ADVERTISE_HOST": "127.0.0.1",
        "CBAS_WORKER_POWEROFF": "true",
        "CBAS_WORKER_DIR": f"{root}/var/lib/cbas/jobs",
        "CBAS_HOME": f"{root}/var/lib/cbas",
        "CBAS_IMDS_ENDPOINT": IMDS,
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": IMDS,
        "AWS_METADATA_SERVICE_TIMEOUT": "5",  # botocore's 1 s and one try are short for a slow IMDS
        "AWS_METADATA_SERVICE_NUM_ATTEMPTS": "3",
        "CBAS_DMTCP_BIN": "",
        "CBAS_SPEED": "1",
    }
    rules = (root / IPTABLES_RULES).read_text().splitlines()
    assert rules == ["OUTPUT -d 169.254.169.254 -m owner --uid-owner cbas-job -j REJECT"]
    useradd = (root / "var/log/useradd.calls").read_text().splitlines()
    assert useradd[0] == "--system --no-create-home --shell /usr/sbin/nologin cbas-job"


def test_without_the_version_and_without_a_wheel_the_boot_fails_clearly(tmp_path: Path) -> None:
    user_data = document(_descriptor(), BootTarget(wheel_key=None))
    root = tmp_path / "i-2"
    prepare_root(root, user_data=user_data, host_env={}, version="0.0.0-other")
    done = _boot(tmp_path, root, user_data)
    assert done.returncode != 0
    assert "no wheel for" in done.stderr
    assert "run cbas bootstrap" in done.stderr
    assert not (root / "etc/systemd/system/cbas-worker.service").exists()
    assert not (root / "etc/cbas/job.json").exists()


def test_the_boot_environment_holds_nothing_of_ours(tmp_path: Path) -> None:
    env = boot_environment(tmp_path, tmp_path / "shims")
    assert set(env) == {"PATH", "HOME", "LANG", "CBAS_INSTANCE_ROOT"}
    assert env["PATH"].startswith(f"{tmp_path / 'shims'}:/usr/local/sbin:")
    assert env["HOME"] == str(tmp_path / "root")  # not the ~/.aws of whoever runs the cloud


def test_the_local_host_env_holds_no_secret_and_no_endpoint(tmp_path: Path) -> None:
    settings = Settings(
        endpoint_url="http://127.0.0.1:5000",
        aws_access_key_id="AKIAEXAMPLEEXAMPLE00",
        aws_secret_access_key="secret",
        api_token="t",
        speed=24.0,
    )
    env = host_env(settings, jobs_dir=tmp_path / "jobs")
    assert set(env) == {
        "CBAS_HTTP_HOST",
        "CBAS_WORKER_ADVERTISE_HOST",
        "CBAS_WORKER_POWEROFF",
        "CBAS_WORKER_DIR",
        "CBAS_DMTCP_BIN",
        "CBAS_SPEED",
    }
    assert env["CBAS_WORKER_POWEROFF"] == "false"  # the hypervisor powers off, not the host
    assert env["CBAS_SPEED"] == "24.0"
    assert "secret" not in str(env)
    assert "AKIA" not in str(env)
