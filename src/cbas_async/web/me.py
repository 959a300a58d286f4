"""`/api/v1/me`: who the bearer token belongs to (its name, owner and role, never its secret),
for the UI's "signed in as"."""

from __future__ import annotations

from aiohttp import web

from cbas_async.web.api import PREFIX
from cbas_async.web.auth import caller
from cbas_async.web.schemas import Me


async def whoami(request: web.Request) -> web.Response:
    info = caller(request)
    me = Me(token_id=info.token_id, name=info.name, owner=info.owner, role=info.role)
    return web.json_response(me.model_dump(mode="json"))


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/me", whoami)
