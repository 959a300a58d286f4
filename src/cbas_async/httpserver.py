"""Serves one aiohttp app on a host and port (0: a free one) for as long as the context is
open: the master's app, the worker's command endpoint, the local IMDS emulator."""

from __future__ import annotations

import asyncio
from types import TracebackType

import structlog
from aiohttp import web

log = structlog.get_logger(__name__)


class HttpServer:
    """Binds on enter (port 0 picks a free port), serves until `stopping`, cleans up on exit."""

    name = "http"

    def __init__(self, *, app: web.Application, host: str, port: int) -> None:
        self._runner = web.AppRunner(app, access_log=None)
        self._host = host
        self._port = port
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    async def __aenter__(self) -> HttpServer:
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self._host, self._port).start()
        except BaseException:
            await self._runner.cleanup()
            raise
        self.port = int(self._runner.addresses[0][1])
        log.info("http_listening", url=self.url)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._runner.cleanup()

    async def run(self, stopping: asyncio.Event) -> None:
        await stopping.wait()
