"""DMTCP checkpoints of a job holding 100 MiB, 1 GiB and 4 GiB of incompressible memory.

Each run does what a worker does at a spot notice, timed step by step, then what the next
instance does:

- notice → durable: `dmtcp_command -bc` until the image is written (`DmtcpCheckpointer.
  snapshot`), then pack + upload + the pointer's write (`CheckpointStorage.save`);
- restart: download + SHA-256 + unpack (`CheckpointStorage.restore`) into emptied job
  directories, a new coordinator and `dmtcp_restart`, until the job prints again.

Compression: `zstd` is the product's archive (tar + zstd level 3, 4 parts in flight);
`off` streams the same tar uncompressed; the baseline in the same run uploads the image's
bytes plainly, one part at a time. Run alone: `.venv/bin/python -m benchmarks --only dmtcp`.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks.bench_checkpoint import bench_storage
from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources
from cbas_async.clock import SystemClock
from cbas_async.hostpath import installed_bin
from cbas_async.s3io import file_chunks, upload_stream
from cbas_async.sandbox import Sandbox
from cbas_async.worker.checkpoint import archive
from cbas_async.worker.checkpoint.dmtcp import DmtcpCheckpointer
from cbas_async.worker.checkpoint.storage import CheckpointStorage
from cbas_async.worker.paths import JobPaths
from cbas_async.worker.runner import JobProcess

MIB = 1024 * 1024
NAN = float("nan")  # a figure a row does not have yet
SIZES_MIB = (100, 1024, 4096)
HOLD = """import os, sys, time
held = bytearray(os.urandom(int(sys.argv[1]) * 1024 * 1024))
print("ready", flush=True)
n = 0
while True:
    n += 1
    print("tick", n, flush=True)
    time.sleep(0.05)
"""


@dataclass(frozen=True, slots=True)
class Run:
    size_mib: int
    compression: str
    snapshot_s: float  # notice -> image written
    durable_s: float  # notice -> archive uploaded and pointer recorded
    image_bytes: int
    stored_bytes: int
    plain_upload_s: float  # the image's bytes uploaded plainly, one part at a time
    restart_s: float  # download + unpack + dmtcp_restart until the job prints again (zstd)


async def _until(check: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout_s} s")
        await asyncio.sleep(0.02)


def _ticks(stdout: Path) -> int:
    text = stdout.read_text() if stdout.exists() else ""
    return sum(1 for line in text.splitlines() if line.startswith("tick"))


class Bench:
    """One job directory, storage and DMTCP binary folder for every run."""

    def __init__(self, clients: Clients, resources: Resources, scratch: Path) -> None:
        self.clients, self.resources = clients, resources
        self.paths = JobPaths.under(scratch, "j-bench-dmtcp")
        self.dmtcp_bin = installed_bin(os.environ.get("PATH"))
        self.sandbox = Sandbox(s3=clients.s3, bucket=resources.bucket)
        scratch.mkdir(parents=True, exist_ok=True)
        self.script = scratch / "hold.py"
        self.script.write_text(HOLD)

    def checkpointer(self) -> DmtcpCheckpointer:
        return DmtcpCheckpointer(
            state_dir=self.paths.state,
            staging_dir=self.paths.staging,
            tmp_dir=self.paths.tmp,
            clock=SystemClock(),
            base_env={},
            dmtcp_bin=self.dmtcp_bin,
        )

    async def start(self, dmtcp: DmtcpCheckpointer, argv: list[str]) -> JobProcess:
        env = {"PATH": os.environ.get("PATH", os.defpath), **dmtcp.environment()}
        return await JobProcess.start(
            argv, cwd=self.paths.work, env=env, stdout=self.paths.stdout, stderr=self.paths.stderr
        )

    async def measure(self, storage: CheckpointStorage, size_mib: int, runs: int) -> list[Run]:
        """`runs` notices of one job per compression mode, then `runs` restarts from the
        last checkpoint, each on emptied job directories."""
        await asyncio.to_thread(self.paths.reset)
        dmtcp = self.checkpointer()
        await dmtcp.prepare()
        argv = await dmtcp.launch_argv([sys.executable, str(self.script), str(size_mib)])
        job = await self.start(dmtcp, argv)
        await _until(lambda: _ticks(self.paths.stdout) > 0, timeout_s=600)
        notices: list[Run] = []
        for _ in range(runs):
            zstd = await self._notice(storage, dmtcp, job, size_mib, "zstd")
            # the baseline: the same image bytes, plainly
            plain_s = await self._plain(self.paths.staging, f"bench/plain-{size_mib}")
            off = await self._notice(storage, dmtcp, job, size_mib, "off")
            notices += [replace(run, plain_upload_s=plain_s) for run in (zstd, off)]
        await job.stop(0)
        await dmtcp.close()
        restarts = [await self._restart(storage) for _ in range(runs)]
        return [replace(run, restart_s=restarts[n // 2]) for n, run in enumerate(notices)]

    async def _notice(
        self,
        storage: CheckpointStorage,
        dmtcp: DmtcpCheckpointer,
        job: JobProcess,
        size_mib: int,
        compression: str,
    ) -> Run:
        """What the worker does at a notice: snapshot, then pack, upload and record."""
        notice = time.perf_counter()
        staging = await dmtcp.snapshot(job)
        assert staging is not None
        snapshot_s = time.perf_counter() - notice
        if compression == "zstd":
            stored = (await storage.save(staging, extra=dmtcp.extra())).size_bytes
        else:
            stored = await self._upload_tar(staging, f"bench/off-{size_mib}")
        durable_s = time.perf_counter() - notice
        image = await asyncio.to_thread(
            lambda: sum(p.stat().st_size for p in staging.rglob("*") if p.is_file())
        )
        return Run(size_mib, compression, snapshot_s, durable_s, image, stored, NAN, NAN)

    async def _upload_tar(self, staging: Path, key: str) -> int:
        chunks = archive._tar_stream(staging)
        sent = await upload_stream(self.clients.s3, self.resources.bucket, key, chunks)
        await self.clients.s3.delete_object(Bucket=self.resources.bucket, Key=key)
        return sent.size_bytes

    async def _plain(self, staging: Path, key: str) -> float:
        images = await asyncio.to_thread(lambda: sorted(staging.glob("ckpt_*.dmtcp")))
        started = time.perf_counter()
        for n, image in enumerate(images):
            await upload_stream(
                self.clients.s3,
                self.resources.bucket,
                f"{key}-{n}",
                file_chunks(image),
                concurrency=1,
            )
        took = time.perf_counter() - started
        for n in range(len(images)):
            await self.clients.s3.delete_object(Bucket=self.resources.bucket, Key=f"{key}-{n}")
        return took

    async def _restart(self, storage: CheckpointStorage) -> float:
        await asyncio.to_thread(self.paths.reset)  # a new instance: empty job directories
        started = time.perf_counter()
        dmtcp = self.checkpointer()
        await dmtcp.prepare()
        pointer = await storage.restore(self.paths.state, self.paths.download, dmtcp.accepts)
        assert pointer is not None
        argv = await dmtcp.launch_argv(["unused: images restart"])
        job = await self.start(dmtcp, argv)
        await _until(lambda: _ticks(self.paths.stdout) > 0, timeout_s=300)
        took = time.perf_counter() - started
        await job.stop(0)
        await dmtcp.close()
        return took


async def run(
    clients: Clients,
    resources: Resources,
    scratch: Path,
    *,
    runs: int = 5,
    sizes_mib: tuple[int, ...] = SIZES_MIB,
) -> list[Run]:
    bench = Bench(clients, resources, scratch)
    if bench.dmtcp_bin is None:
        return []
    results = []
    for size in sizes_mib:
        storage = await bench_storage(clients, resources, method="dmtcp")
        results += await bench.measure(storage, size, runs)
    return results


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def markdown(runs: list[Run]) -> str:
    if not runs:
        return "DMTCP is not installed here and `make dmtcp` found no tarball: not measured.\n"
    lines = [
        "| memory | compression | runs | notice → image written p50 / p90 (s) "
        "| notice → durable p50 / p90 (s) | image (MiB) | stored (MiB) "
        "| plain serial upload p50 (s) | durable / plain | restart p50 / p90 (s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for size in SIZES_MIB:
        for compression in ("zstd", "off"):
            rows = [r for r in runs if r.size_mib == size and r.compression == compression]
            if not rows:
                continue
            snap = [r.snapshot_s for r in rows]
            durable = [r.durable_s for r in rows]
            plain = [r.plain_upload_s for r in rows]
            restart = [r.restart_s for r in rows]
            restart_text = (
                f"{_p(restart, 0.5):.2f} / {_p(restart, 0.9):.2f}"
                if compression == "zstd"
                else "(the product restores zstd)"
            )
            lines.append(
                f"| {size} MiB | {compression} | {len(rows)} "
                f"| {_p(snap, 0.5):.2f} / {_p(snap, 0.9):.2f} "
                f"| {_p(durable, 0.5):.2f} / {_p(durable, 0.9):.2f} "
                f"| {statistics.median(r.image_bytes for r in rows) / MIB:.0f} "
                f"| {statistics.median(r.stored_bytes for r in rows) / MIB:.0f} "
                f"| {statistics.median(plain):.2f} "
                f"| {statistics.median(durable) / statistics.median(plain):.2f} | {restart_text} |"
            )
    return "\n".join(lines) + "\n"
