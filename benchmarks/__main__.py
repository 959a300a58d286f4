"""`make bench`: run every benchmark and write docs/BENCHMARKS.md (command, machine, date)."""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from benchmarks import (
    bench_api,
    bench_bus,
    bench_checkpoint,
    bench_dmtcp,
    bench_load,
    bench_recovery,
    machine,
)
from cbas_async import logs
from cbas_async.aws import Clients, open_clients
from cbas_async.bootstrap import Resources, bootstrap
from cbas_async.local.cloud import local_settings
from cbas_async.local.moto_server import MotoServer
from cbas_async.settings import Settings

OUT = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"
T = TypeVar("T")
DMTCP_HEADING = "## Spot notice → checkpoint durable and restart (DMTCP checkpoints)"


async def on_moto(scratch: Path, run: Callable[[Clients, Resources, Path], Awaitable[T]]) -> T:
    """`run` against a fresh moto server and a bootstrapped deployment in `scratch`."""
    moto = MotoServer()
    url = moto.start()
    try:
        settings = local_settings(Settings(deployment="bench", home=scratch), url)
        async with open_clients(settings) as clients:
            return await run(clients, await bootstrap(clients, settings), scratch)
    finally:
        moto.stop()


async def checkpoint_section(scratch: Path) -> str:
    rows = await on_moto(scratch, bench_checkpoint.run)
    return (
        "## Spot notice → checkpoint durable in S3 (app checkpoints)\n\n"
        "Incompressible state, moto on loopback. `notice → durable` is what the worker does "
        "after a notice: pack + zstd + SHA-256 + multipart upload (4 parts in flight) + the "
        "pointer's conditional write. Baseline in the same run: the same bytes uploaded "
        "plainly, one part at a time.\n\n" + bench_checkpoint.markdown(rows) + "\n"
    )


async def dmtcp_section(scratch: Path) -> str:
    runs = await on_moto(scratch, bench_dmtcp.run)
    return (
        f"{DMTCP_HEADING}\n\n"
        "Command: `make bench` (this section alone: `.venv/bin/python -m benchmarks --only "
        f"dmtcp`). Machine: {machine.describe()}.\n\n"
        "A Python job holding that much `os.urandom` memory, printing a line every 50 ms, "
        "under `dmtcp_launch` with a private coordinator, as the worker runs it. One job per "
        "size takes every notice of the table (5 per mode): `notice → image written` is "
        "`dmtcp_command -bc` until the image's size settles (`DmtcpCheckpointer.snapshot`); "
        "`notice → durable` adds pack + upload + the pointer's conditional write "
        "(`CheckpointStorage.save`, 4 parts in flight, moto on loopback). `zstd` is the "
        "product's archive (tar + zstd level 3); `off` streams the same tar uncompressed; the "
        "baseline in the same run uploads the image's bytes plainly, one part at a time. "
        "Restart (5 per size): emptied job directories, download + SHA-256 + unpack "
        "(`CheckpointStorage.restore`), a new coordinator and `dmtcp_restart` until the job "
        "prints again.\n\n" + bench_dmtcp.markdown(runs)
    )


RECOVERY_HEADING = "## Recovery on the local cloud (default timers)"


async def recovery_section(scratch: Path) -> str:
    settings = Settings(deployment="bench", home=scratch / "recovery")  # default timers
    results = await bench_recovery.run(settings, scratch)
    ends, restarts = results["terminations"], results["restarts"]
    notices = results["notices"]
    same = sum(int(r["same_instance"]) for r in restarts)
    return (
        f"{RECOVERY_HEADING}\n\n"
        "Command: `make bench` (this section alone: `.venv/bin/python -m benchmarks --only "
        f"recovery`). Machine: {machine.describe()}. Heartbeat "
        f"{settings.heartbeat_interval_s:.0f} s, lost-worker timeout "
        f"{settings.lost_worker_timeout_s:.0f} s, supervisor tick "
        f"{settings.supervise_interval_s:.0f} s, notice poll {settings.notice_poll_s:.0f} s; "
        "the local cloud polls EC2 every 0.3 s (hypervisor) and 0.5 s (state-change "
        "events).\n\n"
        "| measure | runs | median (s) | p90 (s) | target p90 (s) | values (s) |\n"
        "| --- | --- | --- | --- | --- | --- |\n"
        + _stats_row("submit (API) → RUNNING", [r["submit_to_running_s"] for r in ends], 2.0)
        + _stats_row(
            "… of which PENDING → LAUNCHING (the master places it)",
            [r["pending_to_launching_s"] for r in ends],
            None,
        )
        + _stats_row(
            "… of which LAUNCHING → RUNNING (instance and worker start)",
            [r["launching_to_running_s"] for r in ends],
            None,
        )
        + _stats_row(
            "instance terminated, no notice → job placed again (new attempt, LAUNCHING)",
            [r["terminate_to_placed_s"] for r in ends],
            10.0,
        )
        + _stats_row(
            "instance terminated, no notice → new attempt RUNNING",
            [r["terminate_to_running_s"] for r in ends],
            None,
        )
        + _stats_row(
            f"worker kill -9 → job running again from its checkpoint ({same} of "
            f"{len(restarts)} on the same instance)",
            [r["kill_to_running_s"] for r in restarts],
            10.0,
        )
        + _stats_row(
            "spot notice → checkpoint durable, job INTERRUPTED",
            [n["notice_to_durable_s"] for n in notices],
            None,
        )
        + _stats_row(
            "work redone per notice (primes example)",
            [n["work_redone_s"] for n in notices],
            None,
        )
        + "\nA terminated instance is noticed from EC2's state-change event (local cloud: "
        "within one 0.5 s poll), then INTERRUPTED, re-queued and placed in one supervisor "
        "pass the handler wakes; heartbeats (lost after 6 missed) stay the fallback for hangs. "
        "A job submitted through the API wakes the supervisor; one written straight to "
        "DynamoDB (`cbas submit` without `CBAS_API_URL`) waits for the next tick. The worker "
        "kill row resumes on the same instance only where the instance's supervisor restarts "
        "`cbas worker` (systemd `Restart=on-failure`); where it does not, the instance ends "
        "with its worker and the job resumes from its checkpoint on a new instance. No timer "
        "bounds submit → RUNNING any more: PENDING → LAUNCHING is the woken supervisor pass, "
        "LAUNCHING → RUNNING the hypervisor's poll (at most 0.3 s) and the worker process "
        "starting (the interpreter and its imports, then its AWS clients, of which the S3 "
        "and EC2 service models load slowest) until its first write; that part grows with "
        "the machine's load.\n"
    )


def _stats_row(name: str, values: list[float], target_s: float | None) -> str:
    ordered = sorted(values)
    many = len(ordered) > 1
    p90 = statistics.quantiles(ordered, n=10, method="inclusive")[8] if many else ordered[0]
    target = "" if target_s is None else f"≤{target_s:.0f}"
    return (
        f"| {name} | {len(values)} | {statistics.median(ordered):.2f} | {p90:.2f} | {target} "
        f"| {_list(values)} |\n"
    )


async def load_section() -> str:
    beats = await bench_load.heartbeats()
    bus = await bench_bus.bus_events()
    return (
        "## Load on one master: heartbeats, memory, bus\n\n"
        "Command: `make bench` (alone: `.venv/bin/python -m benchmarks.bench_load` and "
        "`-m benchmarks.bench_bus`). No AWS in the loop: `PingPoller.poll_once` is fed "
        "pre-built batches of SQS-shaped messages from memory, then does what it does after "
        "a receive: copy, decode + validate, publish `WorkerPinged` on a bus with the "
        "master's three subscribers (metrics, heartbeats, interruptions), the heartbeat "
        "handler updating the tracker. Steady state: every job already RUNNING and "
        "confirmed, so no DynamoDB access (checked); the first ping of an attempt costs one "
        "GetItem (and LAUNCHING → RUNNING) and is not timed. Baseline in the same run: "
        "`json.loads` of the same bodies; pydantic-core's parser beats it, hence a ratio "
        "above 1 for decoding alone.\n\n"
        + bench_load.markdown(beats)
        + "\n### Bus events\n\n"
        + bench_bus.markdown(bus)
    )


async def api_section(scratch: Path) -> str:
    async with bench_api.moto_process() as url:
        result = await bench_api.run(url, scratch)
    return (
        "## REST API requests per second\n\n"
        "Command: `make bench` (alone: `.venv/bin/python -m benchmarks.bench_api`). The "
        "master's HTTP app (`master.app.http_app`) on 127.0.0.1 with a bearer token, "
        "an aiohttp client in the same process. Baseline in the same run: `/healthz` on the "
        "same server.\n\n" + bench_api.markdown(result)
    )


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def spot_section() -> str:
    try:
        from benchmarks import region_bench, spot_bench
    except ImportError:
        return ""
    return spot_bench.markdown() + "\n" + region_bench.section()


def replace_section(document: str, heading: str, section: str) -> str:
    """`document` with the section under `heading` (up to the next `## `) replaced by
    `section`, or `section` appended when there is none."""
    start = document.find(heading)
    if start < 0:
        return document.rstrip("\n") + "\n\n" + section
    end = document.find("\n## ", start + len(heading))
    rest = "" if end < 0 else document[end + 1 :]
    return document[:start] + section.rstrip("\n") + "\n\n" + rest


async def only(heading: str, make: Callable[[Path], Awaitable[str]]) -> int:
    """Run one section and put it in place of its old text in docs/BENCHMARKS.md."""
    with tempfile.TemporaryDirectory(prefix="cbas-bench-") as tmp:
        section = await make(Path(tmp))
    OUT.write_text(replace_section(OUT.read_text(), heading, section))
    print(section)
    return 0


async def main() -> int:
    logs.configure(level=40)
    if sys.argv[1:] == ["--only", "dmtcp"]:
        return await only(DMTCP_HEADING, dmtcp_section)
    if sys.argv[1:] == ["--only", "recovery"]:
        return await only(RECOVERY_HEADING, recovery_section)
    sections = ["# Benchmarks\n", f"Command: `make bench`. Machine: {machine.describe()}.\n"]
    with tempfile.TemporaryDirectory(prefix="cbas-bench-") as tmp:
        scratch = Path(tmp)
        # first, while the process runs nothing else: their CPU times are process-wide
        load = await load_section()
        api = await api_section(scratch)
        sections.append(await checkpoint_section(scratch / "ckpt"))
        sections.append(await dmtcp_section(scratch / "dmtcp"))
        sections.append(await recovery_section(scratch))
        sections += [load, api]
    sections.append(spot_section())
    OUT.write_text("\n".join(s for s in sections if s))
    print(OUT.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
