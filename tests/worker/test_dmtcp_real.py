"""The DMTCP driver against a real DMTCP (installed, or unpacked by `make dmtcp`): a
counter resumes at the value its image holds, and the driver works on the worker's
event loop (uvloop), where a coordinator's daemon once hung it."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import uvloop

from cbas_async.clock import SystemClock
from cbas_async.hostpath import HOST_PATH
from cbas_async.worker.checkpoint.dmtcp import DmtcpCheckpointer
from cbas_async.worker.jobuser import JobUser, resolve_job_user
from cbas_async.worker.paths import JobPaths
from cbas_async.worker.runner import JobProcess
from tests.dmtcp_tools import DMTCP_BIN, HAVE_DMTCP, NO_DMTCP
from tests.worker.helpers import eventually

pytestmark = pytest.mark.skipif(not HAVE_DMTCP, reason=NO_DMTCP)

# counts until a file named "pause" appears, says where it stopped, and waits
COUNTER = """
import os, time
n, paused = 0, False
while True:
    if os.path.exists("pause"):
        if not paused:
            print("paused at", n, flush=True)
        paused = True
        time.sleep(0.01)
        continue
    paused = False
    n += 1
    print(n, flush=True)
    time.sleep(0.02)
"""


async def test_real_dmtcp_counter_resumes_from_its_saved_value(tmp_path: Path) -> None:
    paths = await _job_paths(tmp_path)
    first = _checkpointer(paths)
    await first.prepare()
    job = await _start(await first.launch_argv([sys.executable, "counter.py"]), paths, first)
    await eventually(lambda: _last_count(paths.stdout, at_least=20))
    await asyncio.to_thread((paths.work / "pause").touch)
    saved = await eventually(lambda: _paused_at(paths.stdout))
    staged = await first.snapshot(job)  # the image holds the counter stopped at `saved`
    assert staged is not None
    await job.kill()
    await first.close()
    await asyncio.to_thread(_replace_tree, staged, paths.state)  # as a restore unpacks it
    await asyncio.to_thread(paths.stdout.write_text, "")
    await asyncio.to_thread((paths.work / "pause").unlink)
    second = _checkpointer(paths)
    await second.prepare()
    argv = await second.launch_argv([sys.executable, "counter.py"])
    assert Path(argv[0]).name == "dmtcp_restart"
    resumed = await _start(argv, paths, second)
    after = await eventually(lambda: _first_count(paths.stdout))
    await resumed.kill()
    await second.close()
    assert after == saved + 1


async def test_the_final_snapshot_stops_the_job_at_its_image(tmp_path: Path) -> None:
    """At a notice nothing runs after the image: the restarted counter prints the number
    after the last one the first run printed, though it prints every 20 ms."""
    paths = await _job_paths(tmp_path)
    first = _checkpointer(paths)
    await first.prepare()
    job = await _start(await first.launch_argv([sys.executable, "counter.py"]), paths, first)
    await eventually(lambda: _last_count(paths.stdout, at_least=5))
    staged = await first.final_snapshot(job, budget_s=60)
    assert staged is not None
    await asyncio.wait_for(job.wait(), timeout=10)  # the coordinator ended it
    assert job.signalled  # so the worker does not take its end for the job finishing
    await first.close()
    last = await _last_count(paths.stdout, at_least=5)
    await asyncio.to_thread(_replace_tree, staged, paths.state)
    await asyncio.to_thread(paths.stdout.write_text, "")
    second = _checkpointer(paths)
    await second.prepare()
    resumed = await _start(await second.launch_argv(["unused"]), paths, second)
    after = await eventually(lambda: _first_count(paths.stdout))
    await resumed.kill()
    await second.close()
    assert last is not None
    assert after == last + 1


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can run a job as another user")
async def test_a_job_run_as_the_job_user_checkpoints_and_restarts(tmp_path: Path) -> None:
    """The coordinator and the job run as `cbas-job`; the worker's `dmtcp_command` reaches
    the coordinator, reads the images, and the restart resumes after the last count."""
    user = resolve_job_user(euid=0)
    assert user is not None
    python = shutil.which("python3", path=HOST_PATH)
    assert python is not None
    paths = await _job_paths(tmp_path, user)
    first = _checkpointer(paths, user)
    await first.prepare()
    job = await _start(await first.launch_argv([python, "counter.py"]), paths, first, user)
    await eventually(lambda: _last_count(paths.stdout, at_least=5))
    staged = await first.final_snapshot(job, budget_s=60)
    assert staged is not None
    assert {p.stat().st_uid for p in staged.glob("ckpt_*.dmtcp")} == {user.uid}
    await asyncio.wait_for(job.wait(), timeout=10)
    await first.close()
    last = await _last_count(paths.stdout, at_least=5)
    await asyncio.to_thread(_replace_tree, staged, paths.state)  # as root, as a restore does
    await asyncio.to_thread(paths.hand_over, user)
    await asyncio.to_thread(paths.stdout.write_text, "")
    second = _checkpointer(paths, user)
    await second.prepare()
    resumed = await _start(await second.launch_argv(["unused"]), paths, second, user)
    after = await eventually(lambda: _first_count(paths.stdout))
    await resumed.kill()
    await second.close()
    assert last is not None
    assert after == last + 1


async def test_the_driver_runs_on_the_workers_uvloop(tmp_path: Path) -> None:
    """`dmtcp_coordinator --daemon` leaves a daemon holding its output: waiting for the
    output to close, as `communicate()` does, never returned under uvloop."""
    paths = await _job_paths(tmp_path)

    async def launch_and_checkpoint() -> Path | None:
        async with asyncio.timeout(60):
            checkpointer = _checkpointer(paths)
            await checkpointer.prepare()
            argv = await checkpointer.launch_argv([sys.executable, "counter.py"])
            job = await _start(argv, paths, checkpointer)
            try:
                await eventually(lambda: _last_count(paths.stdout, at_least=3))
                return await checkpointer.snapshot(job)
            finally:
                await job.kill()
                await checkpointer.close()

    staged = await asyncio.to_thread(_on_uvloop, launch_and_checkpoint)
    assert staged is not None
    assert [p.name for p in staged.glob("ckpt_*.dmtcp")]


def _on_uvloop(main: Callable[[], Awaitable[Path | None]]) -> Path | None:
    async def run() -> Path | None:
        return await main()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(run())


async def _job_paths(tmp_path: Path, user: JobUser | None = None) -> JobPaths:
    paths = JobPaths.under(tmp_path, "j-real")
    await asyncio.to_thread(paths.reset, user)
    await asyncio.to_thread((paths.work / "counter.py").write_text, COUNTER)
    if user is not None:
        await asyncio.to_thread(paths.hand_over, user)
    return paths


def _checkpointer(paths: JobPaths, user: JobUser | None = None) -> DmtcpCheckpointer:
    """Tools from CBAS_DMTCP_BIN alone: the environment names no PATH."""
    return DmtcpCheckpointer(
        state_dir=paths.state,
        staging_dir=paths.staging,
        tmp_dir=paths.tmp,
        clock=SystemClock(),
        base_env={},
        dmtcp_bin=DMTCP_BIN,
        user=user,
        output_dir=paths.logs if user is not None else None,
    )


async def _start(
    argv: list[str],
    paths: JobPaths,
    checkpointer: DmtcpCheckpointer,
    user: JobUser | None = None,
) -> JobProcess:
    env = {**os.environ, **checkpointer.environment()}
    return await JobProcess.start(
        argv, cwd=paths.work, env=env, stdout=paths.stdout, stderr=paths.stderr, user=user
    )


async def _last_count(path: Path, *, at_least: int) -> int | None:
    numbers = await asyncio.to_thread(_numbers, path)
    value = numbers[-1] if numbers else 0
    return value if value >= at_least else None


async def _first_count(path: Path) -> int | None:
    numbers = await asyncio.to_thread(_numbers, path)
    return numbers[0] if numbers else None


async def _paused_at(path: Path) -> int | None:
    lines = (await asyncio.to_thread(path.read_text)).splitlines()
    found = [int(line.split()[-1]) for line in lines if line.startswith("paused at ")]
    return found[-1] if found else None


def _replace_tree(source: Path, dest: Path) -> None:
    shutil.rmtree(dest)
    shutil.copytree(source, dest, symlinks=True)


def _numbers(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split() if line.isdigit()]
