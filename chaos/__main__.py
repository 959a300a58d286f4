"""`python -m chaos --jobs N --worker-kills K --master-kills M --interruptions I
--storage-outages O --capacity-outages C --quota-outages Q --seed S`"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import signal
import sys
import tempfile
from pathlib import Path

from cbas_async import logs
from chaos.runner import ChaosOptions, ChaosReport, run_chaos


def parse(argv: list[str]) -> ChaosOptions:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--worker-kills", type=int, default=50)
    parser.add_argument("--master-kills", type=int, default=10)
    parser.add_argument("--interruptions", type=int, default=30)
    parser.add_argument("--storage-outages", type=int, default=12, help="S3/DynamoDB outages")
    parser.add_argument(
        "--capacity-outages", type=int, default=8, help="EC2 pools without capacity for a while"
    )
    parser.add_argument("--quota-outages", type=int, default=4, help="EC2 vCPU quota outages")
    parser.add_argument(
        "--regions", default="", help="R1,R2: a deployment across regions, a master in each"
    )
    parser.add_argument(
        "--region-outages", type=int, default=0, help="every master of a region killed a while"
    )
    parser.add_argument("--seed", default="", help="default: random (printed)")
    parser.add_argument("--concurrency", type=int, default=10, help="jobs live at once")
    parser.add_argument("--timeout", type=float, default=None, help="seconds for the run")
    parser.add_argument("--home", type=Path, default=None, help="default: a temp folder")
    args = parser.parse_args(argv)
    seed = int(args.seed) if str(args.seed).strip() else random.SystemRandom().randrange(10**9)
    home = args.home or Path(tempfile.mkdtemp(prefix="cbas-chaos-"))
    return ChaosOptions(
        jobs=args.jobs,
        worker_kills=args.worker_kills,
        master_kills=args.master_kills,
        interruptions=args.interruptions,
        storage_outages=args.storage_outages,
        capacity_outages=args.capacity_outages,
        quota_outages=args.quota_outages,
        regions=tuple(r.strip() for r in args.regions.split(",") if r.strip()),
        region_outages=args.region_outages,
        seed=seed,
        home=home,
        concurrency=args.concurrency,
        timeout_s=args.timeout,
    )


async def _run(options: ChaosOptions) -> ChaosReport:
    """SIGTERM or Ctrl-C cancels the run; masters and workers are still stopped."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    return await run_chaos(options)


def main(argv: list[str]) -> int:
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        del os.environ[name]  # the local cloud only: never a real account
    options = parse(argv)
    logs.configure(level=logging.WARNING)
    print(f"chaos seed {options.seed}; files in {options.home}", flush=True)
    try:
        report = asyncio.run(_run(options))
    except asyncio.CancelledError:
        print(f"chaos run stopped; seed {options.seed}", flush=True)
        return 130
    print(report.render(), flush=True)
    if not report.ok:
        print(f"INVARIANT VIOLATED; reproduce with: {options.command}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
