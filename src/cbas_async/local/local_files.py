"""The files a local cloud run leaves for its masters and for a second shell: `local.env`
with the settings that reach the local cloud and a fresh admin API token."""

from __future__ import annotations

import contextlib

from cbas_async import localenv
from cbas_async.clock import Clock
from cbas_async.deployment import make_store
from cbas_async.hostpath import unpacked_bin
from cbas_async.local.regions import LocalRegion
from cbas_async.settings import Settings
from cbas_async.web.auth import TokenStore
from cbas_async.web.tokens import TokenNotFound

LOCAL_TOKEN_NAME = "cbas local"


async def write_local_env(
    local: Settings, home: LocalRegion, control_url: str, api_url: str | None, clock: Clock
) -> dict[str, str]:
    """The masters' and the CLI's settings, written to local.env."""
    env = worker_env(local)
    env["CBAS_LOCAL_CONTROL_URL"] = control_url
    store = make_store(home.clients, home.resources)
    env["CBAS_API_TOKEN"] = await local_token(TokenStore(store=store, clock=clock))
    if api_url is not None:
        env["CBAS_API_URL"] = api_url
    localenv.write(local.home / localenv.FILE_NAME, env)
    return env


def worker_env(settings: Settings) -> dict[str, str]:
    """The masters' and the CLI's settings (local.env)."""
    if settings.dmtcp_bin is None:  # the copy `make dmtcp` unpacked, if any; not our PATH
        settings = settings.replace(dmtcp_bin=unpacked_bin())
    env = settings.to_env()
    env.pop("CBAS_MASTER_ID", None)  # each master process picks its own
    env.pop("CBAS_HTTP_PORT", None)
    return env


async def local_token(tokens: TokenStore) -> str:
    """A new admin token for this run's `local.env`; the one an earlier run against the same
    deployment made is revoked (its secret left with that run's `local.env`)."""
    with contextlib.suppress(TokenNotFound):
        await tokens.revoke(LOCAL_TOKEN_NAME)
    return await tokens.create(name=LOCAL_TOKEN_NAME)
