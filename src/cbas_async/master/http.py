"""The master's HTTP app: `/healthz` and `/sns` (EventBridge spot warnings and instance
state changes over SNS).

`master/app.py` mounts the API, the UI and `/metrics` (`web/`) on this same app.
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
from cbas_async.sns import SnsVerifier, confirm_subscription
from cbas_async.sns_envelope import SnsEnvelope
from cbas_async.sns_intake import Refused, SnsIntake
from cbas_async.state_events import parse_state_change

log = structlog.get_logger(__name__)

HEALTH = web.AppKey("health", Health)
BUS = web.AppKey("bus", Bus)
INTAKE = web.AppKey("intake", SnsIntake)
SESSION = web.AppKey("session", aiohttp.ClientSession)


@dataclass(frozen=True, slots=True, kw_only=True)
class SnsConfig:
    """What the /sns endpoint accepts."""

    region: str
    verify: bool


SNS_CONFIG = web.AppKey("sns_config", SnsConfig)

SPOT_WARNING = "EC2 Spot Instance Interruption Warning"


async def healthz(request: web.Request) -> web.Response:
    ok, body = request.app[HEALTH].report()
    return web.json_response(body, status=200 if ok else 503)


async def sns_endpoint(request: web.Request) -> web.Response:
    config = request.app[SNS_CONFIG]
    intake = request.app[INTAKE]
    # the app's client_max_size answers 413 past the limit before this reads it
    envelope = await intake.accept(await request.read())
    if isinstance(envelope, Refused):
        return web.json_response({"error": envelope.problem}, status=envelope.status)
    if isinstance(envelope, str):
        return web.json_response({"ok": True, "duplicate": True})
    try:
        if envelope.type == "SubscriptionConfirmation" and config.verify:
            await confirm_subscription(request.app[SESSION], envelope, region=config.region)
        elif envelope.type == "Notification":
            await dispatch(request.app[BUS], envelope)
    except InvalidMessage as exc:
        return web.json_response({"error": str(exc)[:300]}, status=403)
    except TransientError as exc:
        intake.forget(envelope)  # let SNS's redelivery through
        return web.json_response({"error": str(exc)[:300]}, status=503)
    except Exception:
        intake.forget(envelope)
        raise
    return web.json_response({"ok": True})


async def dispatch(bus: Bus, envelope: SnsEnvelope) -> None:
    """A verified notification, however it came (this route or the events queue): the
    events it carries go on the bus; anything else is logged and ignored."""
    try:
        event = json.loads(envelope.message)
    except json.JSONDecodeError:
        log.info("sns_message_not_json", message_id=envelope.message_id)
        return
    changed = parse_state_change(event) if isinstance(event, dict) else None
    if changed is not None:  # EC2 Instance State-change Notification
        await bus.publish(changed)
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
    intake: SnsIntake | None = None,
) -> web.Application:
    """`intake`: shared with the events queue's poller, so a message that comes both ways
    (same MessageId) is handled once; by default one of its own."""
    app = web.Application(client_max_size=max_body_bytes)
    app[HEALTH] = health
    app[BUS] = bus
    app[INTAKE] = intake or SnsIntake(verifier=verifier, topics=topics, max_bytes=max_body_bytes)
    app[SESSION] = session
    app[SNS_CONFIG] = SnsConfig(region=region, verify=verify)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/sns", sns_endpoint)
    return app
