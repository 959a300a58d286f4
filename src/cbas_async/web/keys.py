"""The `web.AppKey`s through which the API's handlers get their dependencies."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from cbas_async.bus import Bus
from cbas_async.clock import Clock
from cbas_async.deployment import Session
from cbas_async.fleet.tracker import HeartbeatTracker
from cbas_async.web.auth import TokenStore
from cbas_async.web.prices import SpotPrices


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiLimits:
    """Sizes and pacing of the API: request bodies, pages, live streams, refused tokens."""

    spec_max_bytes: int = 256 * 1024
    upload_max_bytes: int = 64 * 1024 * 1024
    upload_max_files: int = 100
    page_max: int = 200
    stream_poll_s: float = 1.0
    log_tail_max_chunks: int = 1000
    refused_tokens_per_minute: int = 10  # per client address; then 429 with Retry-After


CLOUD = web.AppKey("cloud", Session)  # store, sandbox, clients: what `commands` works on
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
TOKENS = web.AppKey("tokens", TokenStore)
PRICES = web.AppKey("prices", SpotPrices)
TRACKER = web.AppKey("tracker", HeartbeatTracker)
LIMITS = web.AppKey("limits", ApiLimits)
CLOSING = web.AppKey("closing", asyncio.Event)
BUS = web.AppKey("web_bus", Bus)  # the master's bus: `/metrics` reads it, submits wake on it
