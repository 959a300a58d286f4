"""Runs the job: an asyncio subprocess in its sandbox, stdout and stderr going to files.

The job gets its own session and process group, so signals reach every process it started; on Linux
it is also killed if the worker dies (`setpriv --pdeathsig`), so a crashed or killed worker
never leaves an orphan writing into a sandbox that a later attempt reuses. Given a
`JobUser`, the job runs as that user, with no supplementary groups.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import structlog

from cbas_async.worker.jobuser import JobUser, as_user, setpriv_options

log = structlog.get_logger(__name__)

# the worker's own configuration and credentials never reach the job
_PRIVATE_PREFIXES = ("AWS_", "CBAS_")


def job_environment(
    base: Mapping[str, str],
    spec_env: Mapping[str, str],
    extra: Mapping[str, str],
    *,
    user: JobUser | None = None,
    home: Path | None = None,
) -> dict[str, str]:
    """The job's environment: `base` without AWS_*/CBAS_* names (and, for a job `user`, with
    its own HOME, USER and LOGNAME: the worker's home is not the job's), then the spec's,
    then ours."""
    env = {k: v for k, v in base.items() if not k.startswith(_PRIVATE_PREFIXES)}
    env.setdefault("PATH", os.defpath)
    if user is not None and home is not None:
        env.update(HOME=str(home), USER=user.name, LOGNAME=user.name)
    return {**env, **spec_env, **extra}


def orphan_guard(argv: Sequence[str], user: JobUser | None = None) -> list[str]:
    """`argv`, run so that the kernel kills it when the worker dies (where supported), as
    `user` if given (`FileNotFoundError` when there is no `setpriv` to switch users)."""
    if sys.platform == "linux" and shutil.which("setpriv"):
        switch = setpriv_options(user) if user is not None else []
        return ["setpriv", "--pdeathsig", "KILL", *switch, "--", *argv]
    return as_user(argv, user)


def find_executable(program: str, *, cwd: Path, path: str | None) -> str | None:
    """Where `program` would be executed from (relative names from `cwd`), or None."""
    if "/" in program:
        candidate = cwd / program
        return str(candidate) if os.access(candidate, os.X_OK) and candidate.is_file() else None
    return shutil.which(program, path=path)


class JobProcess:
    """One running job: a process group whose output goes to two files."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.signalled = False  # whether the worker signalled it while it was running

    @classmethod
    async def start(
        cls,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        stdout: Path,
        stderr: Path,
        user: JobUser | None = None,
    ) -> JobProcess:
        """Start `argv` (as `user` if given); `FileNotFoundError` if there is no such
        executable. The output files are opened here, so the job needs no access to them."""
        if find_executable(argv[0], cwd=cwd, path=env.get("PATH")) is None:
            raise FileNotFoundError(2, "no such executable", argv[0])
        with stdout.open("ab") as out, stderr.open("ab") as err:
            process = await asyncio.create_subprocess_exec(
                *orphan_guard(argv, user),
                cwd=cwd,
                env=dict(env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group (uvloop has no process_group)
            )
        log.info("job_started", pid=process.pid, argv=list(argv), user=user and user.name)
        return cls(process)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    async def wait(self) -> int:
        return await self._process.wait()

    def stopping(self) -> None:
        if self._process.returncode is None:
            self.signalled = True

    def signal(self, signum: int) -> None:
        """Signal the job's whole process group; a job already gone is not an error."""
        if self._process.returncode is not None:
            return
        self.signalled = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signum)

    async def stop(self, grace_s: float) -> int:
        """SIGTERM, wait up to `grace_s`, then SIGKILL; returns the exit code."""
        self.signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(max(grace_s, 0.0)):
                return await self._process.wait()
        except TimeoutError:
            log.warning("job_stop_timeout", grace_s=round(grace_s, 3))
            return await self.kill()

    async def kill(self) -> int:
        self.signal(signal.SIGKILL)
        return await self._process.wait()


def describe_exit(code: int) -> str:
    """`exit code 3`, or `killed by SIGKILL` for a negative return code."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def tail_lines(path: Path, lines: int = 20, max_bytes: int = 4096) -> str:
    """The last `lines` lines of a file (at most `max_bytes` of them); blocking."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])
