"""The master's HTTP app: `/healthz` and `/sns` (EventBridge spot warnings over SNS).

The web issue adds the API, the UI and `/metrics` to this same app.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import structlog
from aiohttp import web

from cbas_async.bus import Bus
from cbas_async.clock import parse_utc
from cbas_async.errors import InvalidMessage, TransientError
from cbas_async.events import InterruptionWarned
from cbas_async.master.health import Health
from cbas_async.sns import (
    DuplicateFilter,
    MessageTooLarge,
    SnsEnvelope,
    SnsVerifier,
    confirm_subscription,
    parse_envelope,
    topic_owned,
)

log = structlog.get_logger(__name__)

HEALTH = web.AppKey("health", Health)
BUS = web.AppKey("bus", Bus)
VERIFIER = web.AppKey("verifier", SnsVerifier)
DUPLICATES = web.AppKey("duplicates", DuplicateFilter)
SESSION = web.AppKey("session", aiohttp.ClientSession)


@dataclass(frozen=True, slots=True, kw_only=True)
class SnsConfig:
    """What the /sns endpoint accepts."""

    topics: frozenset[str]
    max_bytes: int
    region: str
    verify: bool


SNS_CONFIG = web.AppKey("sns_config", SnsConfig)

SPOT_WARNING = "EC2 Spot Instance Interruption Warning"


async def healthz(request: web.Request) -> web.Response:
    ok, body = request.app[HEALTH].report()
    return web.json_response(body, status=200 if ok else 503)


async def sns_endpoint(request: web.Request) -> web.Response:
    config = request.app[SNS_CONFIG]
    try:
        body = await request.read()  # the app's client_max_size answers 413 past the limit
        envelope = parse_envelope(body, max_bytes=config.max_bytes)
        await request.app[VERIFIER].verify(envelope)
    except MessageTooLarge as exc:
        return _refuse(413, exc)
    except InvalidMessage as exc:
        return _refuse(403, exc)
    except TransientError as exc:
        return _refuse(503, exc)
    if not topic_owned(envelope, config.topics):
        return _refuse(403, InvalidMessage(f"topic {envelope.topic_arn} is not ours"))
    duplicates = request.app[DUPLICATES]
    if duplicates.seen(envelope.message_id):
        return web.json_response({"ok": True, "duplicate": True})
    try:
        if envelope.type == "SubscriptionConfirmation" and config.verify:
            await confirm_subscription(request.app[SESSION], envelope, region=config.region)
        elif envelope.type == "Notification":
            await _dispatch(request.app[BUS], envelope)
    except Exception:
        duplicates.forget(envelope.message_id)  # let SNS's redelivery through
        raise
    return web.json_response({"ok": True})


def _refuse(status: int, exc: Exception) -> web.Response:
    log.warning("sns_refused", status=status, error=str(exc))
    return web.json_response({"error": str(exc)}, status=status)


async def _dispatch(bus: Bus, envelope: SnsEnvelope) -> None:
    try:
        event = json.loads(envelope.message)
    except json.JSONDecodeError:
        log.info("sns_message_not_json", message_id=envelope.message_id)
        return
    if not isinstance(event, dict) or event.get("detail-type") != SPOT_WARNING:
        log.info("sns_message_ignored", message_id=envelope.message_id)
        return
    detail = event.get("detail") or {}
    instance_id = detail.get("instance-id") if isinstance(detail, dict) else None
    if not isinstance(instance_id, str):
        log.warning("spot_warning_without_instance", message_id=envelope.message_id)
        return
    try:
        at = parse_utc(str(event.get("time")))
    except ValueError:
        at = datetime.now(UTC)
    action = str(detail.get("instance-action", "terminate"))
    await bus.publish(InterruptionWarned(instance_id=instance_id, action=action, at=at))


def build_app(
    *,
    health: Health,
    bus: Bus,
    verifier: SnsVerifier,
    session: aiohttp.ClientSession,
    topics: frozenset[str],
    max_body_bytes: int,
    region: str,
    verify: bool,
) -> web.Application:
    app = web.Application(client_max_size=max_body_bytes)
    app[HEALTH] = health
    app[BUS] = bus
    app[VERIFIER] = verifier
    app[DUPLICATES] = DuplicateFilter()
    app[SESSION] = session
    app[SNS_CONFIG] = SnsConfig(
        topics=topics, max_bytes=max_body_bytes, region=region, verify=verify
    )
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/sns", sns_endpoint)
    return app
