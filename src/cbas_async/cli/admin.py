"""The deployment's own commands of `cbas`: create API tokens,
and send a spot interruption on the local cloud."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping

from cbas_async.cli.exits import EXIT_NOT_FOUND, EXIT_OK
from cbas_async.clock import SystemClock
from cbas_async.deployment import open_session
from cbas_async.errors import CloudUnreachable, ConfigError
from cbas_async.settings import Settings


async def token(settings: Settings, args: argparse.Namespace) -> int:
    from cbas_async.web.auth import TokenStore

    async with open_session(settings) as session:
        print(await TokenStore(store=session.store, clock=SystemClock()).create(name=args.name))
    return EXIT_OK


async def interrupt(environ: Mapping[str, str], args: argparse.Namespace) -> int:
    import aiohttp

    control = environ.get("CBAS_LOCAL_CONTROL_URL")
    if not control:
        raise ConfigError("CBAS_LOCAL_CONTROL_URL", "not set: is `cbas local` running?")
    async with aiohttp.ClientSession() as http:
        try:
            async with http.post(f"{control}/interrupt/{args.job_id}") as response:
                body = await response.json()
        except aiohttp.ClientConnectionError as exc:
            raise CloudUnreachable(control, str(exc)) from exc
    if response.status == 404:
        print(body.get("error"), file=sys.stderr)
        return EXIT_NOT_FOUND
    print(f"notice sent to {body['instance_id']}; reclaimed in {body['notice_s']:.0f}s")
    return EXIT_OK
