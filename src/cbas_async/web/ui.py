"""The web UI: one HTML shell and its static files. They hold no data and no secret, so
they are public; everything they show comes from the API with the user's bearer token."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(TEMPLATES / "index.html", headers={"Cache-Control": "no-cache"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC, follow_symlinks=False)
