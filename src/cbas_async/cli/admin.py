"""The deployment's own commands of `cbas`: create, list and revoke API tokens, and send a
spot interruption on the local cloud."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from cbas_async.cli.exits import EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE
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
