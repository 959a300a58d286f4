"""The long-running commands of `cbas` (master, worker, local, demo) and `simulate`: each
imports its package only when run, so starting `cbas` stays light."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from cbas_async.settings import Settings

Runner = Callable[[Settings, argparse.Namespace, Mapping[str, str]], int]


def run_loop(coroutine: Coroutine[Any, Any, int]) -> int:
    """Run on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def _master(settings: Settings, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from cbas_async.master.app import serve

    return run_loop(serve(settings))


def _worker(settings: Settings, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from cbas_async.worker.agent import main_worker

    return main_worker(environ)


def _local(settings: Settings, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from cbas_async.local.cloud import run_local

    settings = settings.replace(speed=args.speed)
    if args.regions:  # the first is the home region, where this process and the tables are
        settings = settings.replace(regions=args.regions, region=args.regions[0])
    # off on the local cloud (moto's signatures are not real) unless forced on
    verify = "CBAS_SNS_VERIFY" in environ and settings.sns_verify
    return run_loop(
        run_local(
            settings,
            port=args.port,
            with_master=not args.no_master,
            trace=args.trace or (),
            sns_verify=verify,
        )
    )


def _demo(settings: Settings, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from cbas_async.demo import run_demo

    return run_loop(run_demo(settings))


def _simulate(settings: Settings, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from cbas_async.sim.cli import run

    return run(args)


DAEMONS: dict[str, Runner] = {
    "master": _master,
    "worker": _worker,
    "local": _local,
    "demo": _demo,
}
OFFLINE: dict[str, Runner] = {"simulate": _simulate}
