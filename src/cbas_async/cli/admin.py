"""The deployment's own commands of `cbas`: create, list and revoke API tokens; on the local
cloud, send a spot interruption and start EC2 capacity and quota outages; bake a worker
image."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from cbas_async.cli.exits import EXIT_FAILED, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE
from cbas_async.clock import SystemClock
from cbas_async.deployment import open_session
from cbas_async.errors import CloudUnreachable, ConfigError
from cbas_async.settings import Settings

if TYPE_CHECKING:
    from cbas_async.web.tokens import TokenInfo, TokenStore


async def token(settings: Settings, args: argparse.Namespace) -> int:
    from cbas_async.web.tokens import TokenNotFound, TokenProblem, TokenStore

    async with open_session(settings) as session:
        tokens = TokenStore(store=session.store, clock=SystemClock())
        await tokens.migrate()
        try:
            return await _TOKEN_ACTIONS[args.action](tokens, args)
        except TokenNotFound as exc:
            print(exc, file=sys.stderr)
            return EXIT_NOT_FOUND
        except TokenProblem as exc:
            print(exc, file=sys.stderr)
            return EXIT_USAGE


async def _create(tokens: TokenStore, args: argparse.Namespace) -> int:
    secret, info = await tokens.issue(name=args.name, owner=args.owner, role=args.role)
    if args.json:
        print(json.dumps({**info.to_json(), "token": secret}, indent=2, sort_keys=True))
    else:
        print(secret)
    return EXIT_OK


async def _list(tokens: TokenStore, args: argparse.Namespace) -> int:
    found = await tokens.list_tokens()
    if args.json:
        print(json.dumps([t.to_json() for t in found], indent=2, sort_keys=True))
        return EXIT_OK
    print(f"{'NAME':24} {'OWNER':16} {'ROLE':6} {'ID':12} {'CREATED':27} LAST USED")
    for t in found:
        used = t.last_used_at or "never"
        print(f"{t.name:24} {t.owner:16} {t.role:6} {t.token_id:12} {t.created_at:27} {used}")
    return EXIT_OK


async def _revoke(tokens: TokenStore, args: argparse.Namespace) -> int:
    gone: TokenInfo = await tokens.revoke(args.name)
    print(f"revoked {gone.name} ({gone.token_id}, owner {gone.owner})")
    return EXIT_OK


_TOKEN_ACTIONS = {"create": _create, "list": _list, "revoke": _revoke}


async def image(settings: Settings, args: argparse.Namespace) -> int:
    """`cbas image build`: prints the image id; exit 1 when the build failed."""
    from cbas_async.aws import open_clients
    from cbas_async.image_build import BuildOptions, ImageBuildFailed, build_image

    options = BuildOptions(
        base=args.base,
        with_dmtcp=args.with_dmtcp,
        instance_type=args.instance_type,
        timeout_s=args.timeout,
    )
    async with open_clients(settings) as clients:
        try:
            image_id = await build_image(clients, settings, options, clock=SystemClock())
        except ImageBuildFailed as exc:
            print(f"cbas: image build: {exc}", file=sys.stderr)
            return EXIT_FAILED
    print(image_id)
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


async def fault(environ: Mapping[str, str], args: argparse.Namespace) -> int:
    """`cbas fault capacity|quota`: exit 2 on bad input or when no local cloud answers."""
    import aiohttp

    control = environ.get("CBAS_LOCAL_CONTROL_URL")
    if not control:
        raise ConfigError("CBAS_LOCAL_CONTROL_URL", "not set: is `cbas local` running?")
    async with aiohttp.ClientSession() as http:
        try:
            async with http.post(
                f"{control}/fault/{args.kind}", json=_fault_body(args)
            ) as response:
                body = await response.json()
        except aiohttp.ClientError as exc:
            print(
                f"cbas: no local cloud answers at {control} ({exc}): is `cbas local` running?",
                file=sys.stderr,
            )
            return EXIT_USAGE
    if response.status != 200:
        print(f"cbas: {body.get('error', body)}", file=sys.stderr)
        return EXIT_USAGE
    print(_fault_line(body))
    return EXIT_OK


def _fault_body(args: argparse.Namespace) -> dict[str, object]:
    if args.kind == "quota":
        return {"vcpus": args.vcpus, "seconds": args.seconds}
    return {
        "zone": args.zone,
        "instance_type": args.instance_type,
        "market": args.market,
        "seconds": args.seconds,
    }


def _fault_line(body: dict[str, object]) -> str:
    if body["fault"] == "quota":
        return (
            f"launches beyond {body['vcpus']} live vCPUs per market refused for {body['seconds']}s"
        )
    return (
        f"no {body['market']} capacity for {body['instance_type']} in zone {body['zone']} "
        f"({body['region']}) for {body['seconds']}s"
    )
