"""Notice -> checkpoint durable in S3 for app checkpoints of 10 MiB, 100 MiB and 1 GiB.

Measures `CheckpointStorage.save` (pack + zstd + SHA-256 + concurrent multipart upload +
the pointer's conditional write) against moto, and, as the baseline in the same run, a
plain serial upload (one part at a time, no compression) of the same bytes.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources
from cbas_async.clock import SystemClock
from cbas_async.deployment import make_store
from cbas_async.jobs import JobSpec
from cbas_async.s3io import file_chunks, upload_stream
from cbas_async.sandbox import Sandbox
from cbas_async.states import JobState
from cbas_async.worker.checkpoint.storage import CheckpointStorage

MIB = 1024 * 1024
SIZES_MIB = (10, 100, 1024)


async def bench_storage(
    clients: Clients, resources: Resources, *, method: str
) -> CheckpointStorage:
    """A new job's checkpoint storage, as its first attempt writes it."""
    store = make_store(clients, resources)
    job = await store.create(
        JobSpec(name="bench", command=["true"]), now=datetime.now(UTC), actor="bench"
    )
    await store.transition(
        job.job_id, {JobState.SUBMITTED}, JobState.PENDING, 0, now=datetime.now(UTC), actor="bench"
    )
    return CheckpointStorage(
        store=store,
        sandbox=Sandbox(s3=clients.s3, bucket=resources.bucket),
        job_id=job.job_id,
        attempt=1,
        method=method,
        clock=SystemClock(),
    )


async def run(clients: Clients, resources: Resources, scratch: Path) -> list[dict[str, float]]:
    storage = await bench_storage(clients, resources, method="app")
    rows = []
    for size in SIZES_MIB:
        state = scratch / f"state-{size}"
        state.mkdir(parents=True)
        data = state / "state.bin"
        with data.open("wb") as handle:  # incompressible: the worst case for upload size
            for _ in range(size):
                handle.write(os.urandom(MIB))
        started = time.perf_counter()
        await upload_stream(
            clients.s3, resources.bucket, f"bench/serial-{size}", file_chunks(data), concurrency=1
        )
        baseline_s = time.perf_counter() - started
        started = time.perf_counter()
        await storage.save(state, extra={})
        durable_s = time.perf_counter() - started
        rows.append({"size_mib": size, "durable_s": durable_s, "baseline_s": baseline_s})
        data.unlink()
    return rows


def markdown(rows: list[dict[str, float]]) -> str:
    lines = [
        "| app checkpoint | notice → durable (s) | serial plain upload (s) | ratio | MiB/s |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        ratio = row["durable_s"] / row["baseline_s"]
        speed = row["size_mib"] / row["durable_s"]
        lines.append(
            f"| {row['size_mib']:.0f} MiB | {row['durable_s']:.2f} | {row['baseline_s']:.2f} "
            f"| {ratio:.2f} | {speed:.0f} |"
        )
    return "\n".join(lines)
