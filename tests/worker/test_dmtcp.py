"""The DMTCP driver: its command lines (the notes' contract), a host without DMTCP, its
plumbing with stand-in tools, and a real round trip where DMTCP is installed."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from cbas_async.clock import SystemClock
from cbas_async.hostpath import HOST_PATH, search_path
from cbas_async.states import JobState
from cbas_async.worker.checkpoint import dmtcp_cli as cli
from cbas_async.worker.checkpoint.base import CheckpointUnavailable
from cbas_async.worker.checkpoint.dmtcp import UNAVAILABLE, DmtcpCheckpointer
from cbas_async.worker.paths import JobPaths
from tests.dmtcp_tools import DMTCP_BIN
from tests.worker import fake_dmtcp, primes
from tests.worker.helpers import LocalCloud, eventually

ON_HOST_PATH = shutil.which("dmtcp_launch", path=HOST_PATH) is not None


def test_command_lines_follow_the_notes() -> None:
    state, port_file = Path("/w/j/state"), Path("/w/j/tmp/port")
    assert cli.coordinator_argv(port_file, state) == _words(
        "dmtcp_coordinator --daemon --exit-on-last -p 0 --port-file /w/j/tmp/port"
        " --ckptdir /w/j/state"
    )
    assert cli.launch_argv(7781, state, ["python3", "a b.py"]) == [
        *_words(
            "dmtcp_launch -j -p 7781 --ckptdir /w/j/state --no-gzip"
            " --checkpoint-open-files --allow-file-overwrite"
        ),
        "python3",
        "a b.py",
    ]
    assert cli.checkpoint_argv(7781) == _words("dmtcp_command -p 7781 -bc")
    assert cli.quit_argv(7781) == _words("dmtcp_command -p 7781 -q")
    images = [state / "ckpt_python3_1.dmtcp", state / "ckpt_sh_2.dmtcp"]
    assert cli.restart_argv(7781, images) == _words(
        "dmtcp_restart -j -p 7781 /w/j/state/ckpt_python3_1.dmtcp /w/j/state/ckpt_sh_2.dmtcp"
    )
    assert cli.environment(Path("/w/j/tmp"), {"PATH": "/bin"}) == {
        "PATH": "/bin",
        "DMTCP_TMPDIR": "/w/j/tmp",
        "LANG": "C",
        "LC_ALL": "C",
    }


def _words(command_line: str) -> list[str]:
    """A command line as the notes write it, split into argv."""
    return command_line.split(" ")


def test_version_parsing() -> None:
    assert cli.parse_version("dmtcp_launch (DMTCP) 3.0.0\nLicense LGPLv3+") == "3.0.0"
    assert cli.parse_version("something else\n") == "something else"
    assert cli.parse_version("") == "unknown"


def test_images_newer_than_a_time(tmp_path: Path) -> None:
    old, new = tmp_path / "ckpt_a_1.dmtcp", tmp_path / "ckpt_b_2.dmtcp"
    old.write_bytes(b"")
    new.write_bytes(b"")
    os.utime(old, (1000, 1000))
    (tmp_path / "ckpt_b_2_files").mkdir()
    assert cli.images(tmp_path) == [old, new]
    assert cli.images(tmp_path, since=2000) == [new]


def test_tools_are_searched_in_dmtcp_bin_then_the_host_path() -> None:
    assert search_path(None) == HOST_PATH
    assert search_path(Path("/opt/dmtcp/bin")) == f"/opt/dmtcp/bin:{HOST_PATH}"
    assert HOST_PATH == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.mark.skipif(ON_HOST_PATH, reason="DMTCP is installed on the host's standard PATH")
async def test_a_host_without_dmtcp_is_refused(tmp_path: Path) -> None:
    """Even when the worker's own PATH has DMTCP: an instance would not have it."""
    paths = JobPaths.under(tmp_path, "j-1")
    checkpointer = DmtcpCheckpointer(
        state_dir=paths.state,
        staging_dir=paths.staging,
        tmp_dir=paths.tmp,
        clock=SystemClock(),
        base_env={"PATH": str(DMTCP_BIN or tmp_path / "empty")},
        dmtcp_bin=tmp_path / "empty",
    )
    with pytest.raises(CheckpointUnavailable) as info:
        await checkpointer.prepare()
    assert info.value.reason == UNAVAILABLE


@pytest.mark.skipif(ON_HOST_PATH, reason="DMTCP is installed on the host's standard PATH")
async def test_a_dmtcp_job_fails_clearly_without_dmtcp(cloud: LocalCloud, tmp_path: Path) -> None:
    job_id = await cloud.submit(primes.spec(method="dmtcp"), {"primes.py": primes.PROGRAM})
    env = {"PATH": str(DMTCP_BIN or "/nowhere")}  # the worker's PATH is not searched
    empty = tmp_path / "empty"
    assert await cloud.run_worker(cloud.boot(job_id, 1), env=env, dmtcp_bin=empty) == 0
    record = await cloud.store.get(job_id)
    assert (record.state, record.reason) == (JobState.FAILED, UNAVAILABLE)


async def test_driver_plumbing_with_stand_in_tools(cloud: LocalCloud, tmp_path: Path) -> None:
    tools = fake_dmtcp.install(tmp_path / "fake-bin")
    log_file = _shared_log(tmp_path / "dmtcp.log")
    env = {**os.environ, "FAKE_DMTCP_LOG": str(log_file)}
    spec = primes.spec(limit=1_000_000, pause_s=0.05, method="dmtcp")
    job_id = await cloud.submit(spec, {"primes.py": primes.PROGRAM})
    instance_id = cloud.boot(job_id, 1)
    async with asyncio.TaskGroup() as tg:
        worker = tg.create_task(cloud.run_worker(instance_id, env=env, dmtcp_bin=tools))

        async def checkpointed() -> bool:
            return (await cloud.store.get(job_id)).checkpoint is not None

        await eventually(checkpointed)
        cloud.emulator.interrupt(instance_id, at=SystemClock().now())
    assert worker.result() == 0
    record = await cloud.store.get(job_id)
    assert record.state is JobState.INTERRUPTED
    assert record.checkpoint is not None
    assert record.checkpoint.method == "dmtcp"
    assert record.checkpoint.extra["dmtcp_version"] == "9.9.9"
    assert set(record.checkpoint.extra) == {"dmtcp_version", "duration_s"}
    await cloud.requeue(job_id)
    assert await cloud.run_worker(cloud.boot(job_id, 2), env=env, dmtcp_bin=tools) == 0
    assert (await cloud.store.get(job_id)).state is JobState.SUCCEEDED
    expected = primes.uninterrupted_result(tmp_path / "plain", limit=1_000_000)
    assert await cloud.output(job_id, "result.txt") == expected
    assert "resumed at" in await cloud.log_text(job_id, "stdout", 2)
    _check_logged_commands(log_file.read_text().splitlines(), cloud.tmp_path / "host" / job_id)


def _check_logged_commands(lines: list[str], root: Path) -> None:
    state, work = root / "state", root / "work"
    coordinators = [line for line in lines if line.startswith("dmtcp_coordinator")]
    assert coordinators[0] == (
        f"dmtcp_coordinator --daemon --exit-on-last -p 0 --port-file {root}/tmp/coordinator.port"
        f" --ckptdir {state}"
    )
    assert len(coordinators) == 2  # one private coordinator per attempt
    [launch] = [line for line in lines if line.startswith("dmtcp_launch")]
    assert launch.startswith("dmtcp_launch -j -p ")
    assert launch.endswith(
        f"--ckptdir {state} --no-gzip --checkpoint-open-files --allow-file-overwrite"
        " python3 primes.py 1000000"
    )
    assert any(line.endswith(" -bc") for line in lines if line.startswith("dmtcp_command -p "))
    [restart] = [line for line in lines if line.startswith("dmtcp_restart")]
    assert restart.startswith("dmtcp_restart -j -p ")
    assert f" {state}/ckpt_fake_" in restart
    assert restart.endswith(f".dmtcp cwd={work}")


async def test_an_image_of_another_dmtcp_version_is_not_restarted(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    tools = fake_dmtcp.install(tmp_path / "fake-bin")
    env = {**os.environ, "FAKE_DMTCP_LOG": str(_shared_log(tmp_path / "log"))}
    spec = primes.spec(limit=300_000, pause_s=0.05, method="dmtcp")  # 12 chunks
    job_id = await cloud.submit(spec, {"primes.py": primes.PROGRAM})
    instance_id = cloud.boot(job_id, 1, checkpoint_interval_s=0.2)
    async with asyncio.TaskGroup() as tg:
        worker = tg.create_task(cloud.run_worker(instance_id, env=env, dmtcp_bin=tools))

        async def checkpointed() -> bool:
            return (await cloud.store.get(job_id)).checkpoint is not None

        await eventually(checkpointed)
        worker.cancel()
    await cloud.requeue(job_id)
    env["FAKE_DMTCP_VERSION"] = "10.0.0"
    assert await cloud.run_worker(cloud.boot(job_id, 2), env=env, dmtcp_bin=tools) == 0
    assert (await cloud.store.get(job_id)).state is JobState.SUCCEEDED
    assert "resumed at" not in await cloud.log_text(job_id, "stdout", 2)


def _shared_log(path: Path) -> Path:
    """The stand-in tools' log: they run as the worker and (coordinator) as the job's user."""
    path.touch()
    path.chmod(0o666)
    return path
