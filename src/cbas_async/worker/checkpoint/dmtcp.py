"""The `dmtcp` checkpoint method: transparent checkpoints of an unmodified program.

Command lines follow `notes/dmtcp.md`: a private coordinator per job (`-p 0 --port-file`),
`dmtcp_launch -j --no-gzip` (compression happens while uploading), `dmtcp_command -bc`
then a poll for fresh images (4.2.0 returns early), and `dmtcp_restart -j` with the job's
sandbox as working directory. Images are restored at the absolute path they were taken at,
`DMTCP_TMPDIR` is private, `LANG=C LC_ALL=C` avoids the `_files` folder for simple programs,
and the DMTCP version recorded with each image must match to restart it.

With a job user, the coordinator runs as that user too (the job's processes are its
clients); `dmtcp_command` runs as the worker and reaches it over TCP. The tools' output
files go to `output_dir`, the worker's own: never a path inside a directory the job owns.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import structlog

from cbas_async.clock import Clock
from cbas_async.errors import TransientError
from cbas_async.hostpath import search_path
from cbas_async.records import CheckpointPointer
from cbas_async.worker.checkpoint import dmtcp_cli as cli
from cbas_async.worker.checkpoint.archive import link_snapshot
from cbas_async.worker.checkpoint.base import CheckpointUnavailable, JobHandle
from cbas_async.worker.jobuser import JobUser, as_user

log = structlog.get_logger(__name__)

UNAVAILABLE = "dmtcp requested but dmtcp_launch is not installed on this host"
TOOLS = ("dmtcp_coordinator", "dmtcp_launch", "dmtcp_command", "dmtcp_restart")


class DmtcpCheckpointer:
    """Runs the job under a private DMTCP coordinator."""

    method = "dmtcp"

    def __init__(
        self,
        *,
        state_dir: Path,
        staging_dir: Path,
        tmp_dir: Path,
        clock: Clock,
        base_env: Mapping[str, str],
        dmtcp_bin: Path | None = None,
        user: JobUser | None = None,
        output_dir: Path | None = None,
    ) -> None:
        self._base_env = dict(base_env)
        self._user = user
        self._output_dir = output_dir or tmp_dir
        self._search_path = search_path(dmtcp_bin)
        self._state_dir = state_dir
        self._staging_dir = staging_dir
        self._tmp_dir = tmp_dir
        self._clock = clock
        self._tools: dict[str, str] = {}
        self._port: int | None = None
        self._version = ""

    async def prepare(self) -> None:
        """Find the tools on `CBAS_DMTCP_BIN` and the host's standard PATH (never the
        worker's own PATH), and read their version."""
        found = {tool: shutil.which(tool, path=self._search_path) for tool in TOOLS}
        missing = [tool for tool, where in found.items() if where is None]
        if "dmtcp_launch" in missing:
            raise CheckpointUnavailable(UNAVAILABLE)
        if missing:
            raise CheckpointUnavailable(f"dmtcp requested but {', '.join(missing)} missing")
        self._tools = {tool: str(where) for tool, where in found.items()}
        _, output = await self._run(cli.version_argv())
        self._version = cli.parse_version(output)
        log.info("dmtcp_found", version=self._version, launch=self._tools["dmtcp_launch"])

    def extra(self) -> dict[str, str]:
        return {"dmtcp_version": self._version}

    def accepts(self, pointer: CheckpointPointer) -> bool:
        found = pointer.extra.get("dmtcp_version")
        if pointer.method != self.method or found != self._version:
            log.warning("dmtcp_image_refused", image_version=found, host_version=self._version)
            return False
        return True

    def environment(self) -> dict[str, str]:
        return cli.environment(self._tmp_dir)

    def _resolved(self, argv: list[str]) -> list[str]:
        """`argv` with the tool named by the path `prepare` found it at."""
        return [self._tools.get(argv[0], argv[0]), *argv[1:]]

    async def launch_argv(self, command: Sequence[str]) -> list[str]:
        port = await self._start_coordinator()
        images = cli.images(self._state_dir)
        if images:
            log.info("dmtcp_restarting", images=[p.name for p in images])
            return self._resolved(cli.restart_argv(port, images))
        return self._resolved(cli.launch_argv(port, self._state_dir, command))

    async def snapshot(self, job: JobHandle) -> Path | None:
        return await self._capture(job, cli.checkpoint_argv)

    async def final_snapshot(self, job: JobHandle, budget_s: float) -> Path | None:
        """The image at the notice, after which the coordinator kills the job (`-kc`):
        nothing runs after the image, so the next instance resumes exactly where this one
        stopped, and packing and uploading get the CPU the job would have used."""
        job.stopping()
        try:
            async with asyncio.timeout(max(budget_s, 0.0)):
                return await self._capture(job, cli.checkpoint_and_kill_argv)
        except TimeoutError:
            log.warning("dmtcp_final_checkpoint_timeout", budget_s=round(budget_s, 3))
            return None
        finally:
            job.signal(signal.SIGKILL)

    async def _capture(self, job: JobHandle, command: Callable[[int], list[str]]) -> Path | None:
        if job.returncode is not None or self._port is None:
            return None
        started = self._clock.now().timestamp()
        argv = command(self._port)
        code, output = await self._run(argv)
        if code != 0:
            raise TransientError(f"dmtcp_command {argv[-1]} exited {code}: {output[-500:]}")
        fresh = await self._await_images(started)
        await asyncio.to_thread(_stage, self._state_dir, fresh, self._staging_dir)
        return self._staging_dir

    async def close(self) -> None:
        if self._port is not None:
            port, self._port = self._port, None
            try:  # exits 2 when the coordinator already left with its last client
                await self._run(cli.quit_argv(port), timeout_s=10)
            except TransientError as exc:
                log.warning("dmtcp_quit_failed", error=str(exc))

    async def _start_coordinator(self) -> int:
        port_file = self._tmp_dir / "coordinator.port"
        await asyncio.to_thread(port_file.unlink, missing_ok=True)
        argv = cli.coordinator_argv(port_file, self._state_dir)
        code, output = await self._run(argv, as_job_user=True)
        if code != 0:
            raise TransientError(f"dmtcp_coordinator exited {code}: {output[-500:]}")
        self._port = await self._read_port(port_file)
        return self._port

    async def _read_port(self, port_file: Path, timeout_s: float = 10.0) -> int:
        deadline = self._clock.monotonic() + timeout_s
        while self._clock.monotonic() < deadline:
            text = await asyncio.to_thread(_read_text, port_file)
            if text.isdigit():
                return int(text)
            await self._clock.sleep(0.05)
        raise TransientError(f"dmtcp_coordinator wrote no port to {port_file}")

    async def _await_images(self, since: float, timeout_s: float = 60.0) -> list[Path]:
        """Images written since `since` whose sizes stopped changing."""
        deadline = self._clock.monotonic() + timeout_s
        sizes: dict[Path, int] = {}
        while self._clock.monotonic() < deadline:
            now = await asyncio.to_thread(_image_sizes, self._state_dir, since)
            if now and now == sizes:
                return sorted(now)
            sizes = now
            await self._clock.sleep(0.1)
        raise TransientError("dmtcp_command -bc returned but no checkpoint image appeared")

    async def _run(
        self, argv: list[str], timeout_s: float = 300.0, *, as_job_user: bool = False
    ) -> tuple[int, str]:
        """Run a DMTCP tool to its exit; `TransientError` if it takes over `timeout_s`.

        Its output goes to a file, not a pipe: `dmtcp_coordinator --daemon` forks a daemon
        that inherits the output and keeps a pipe open long after the tool has exited."""
        output_file = self._output_dir / f"{argv[0]}.out"
        user = self._user if as_job_user else None
        code = await self._exit_code(self._resolved(argv), output_file, timeout_s, user)
        return code, await asyncio.to_thread(_read_text, output_file)

    async def _exit_code(
        self, argv: list[str], output_file: Path, timeout_s: float, user: JobUser | None
    ) -> int:
        await asyncio.to_thread(output_file.parent.mkdir, parents=True, exist_ok=True)
        with output_file.open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                *as_user(argv, user),  # no orphan guard: the coordinator daemonizes
                env=cli.environment(self._tmp_dir, {**self._base_env, "PATH": self._search_path}),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
            )
        try:
            async with asyncio.timeout(timeout_s):
                return await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):  # it may have exited meanwhile
                process.kill()
            await process.wait()
            raise TransientError(f"{argv[0]} took over {timeout_s} s") from None


def _image_sizes(state_dir: Path, since: float) -> dict[Path, int]:
    return {path: path.stat().st_size for path in cli.images(state_dir, since=since)}


def _read_text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""


def _stage(state_dir: Path, images: list[Path], staging: Path) -> None:
    """Link the fresh images, their `_files` folders and restart scripts into `staging`,
    leaving out older images that a restore brought along."""
    link_snapshot(state_dir, staging)
    keep = {p.name for p in images} | {p.name.removesuffix(".dmtcp") + "_files" for p in images}
    for entry in staging.iterdir():
        is_old_image = entry.name.startswith("ckpt_") and entry.name not in keep
        if is_old_image and entry.is_dir():
            shutil.rmtree(entry)
        elif is_old_image:
            entry.unlink()
