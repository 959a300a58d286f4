"""The local cloud's IMDS emulator: IMDSv2 for many local instances on one loopback port.

Each instance lives under its own path prefix, `http://127.0.0.1:PORT/<instance_id>/latest/…`,
so a worker is pointed at it with `CBAS_IMDS_ENDPOINT=http://127.0.0.1:PORT/<instance_id>`.
The placement and the identity document (`dynamic/instance-identity/document`) name the
instance's region and zone. As on EC2 with IMDSv2 required: PUT `latest/api/token` with a
TTL header returns a token, and every GET without a valid, unexpired token of that instance
gets 401. Given a `role`, `meta-data/iam/security-credentials/` names it and serves its
temporary keys, so the workers' AWS SDK finds credentials where it finds them on EC2.

The user data and `meta-data/iam/` (what a job's code must never read) are answered only to
callers running as the worker's uid (`trusted_uid`, this process's by default), told from the
TCP connection (`local.peer_uid`); any other caller gets 403, as a job's uid meets EC2's
owner-match firewall rule on an instance.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType

from aiohttp import web

from cbas_async.clock import Clock, SystemClock
from cbas_async.httpserver import HttpServer
from cbas_async.local.instance_role import InstanceRole
from cbas_async.local.peer_uid import caller_is

TOKEN_HEADER = "X-aws-ec2-metadata-token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
MAX_TTL_S = 21600
PRIVATE_PATHS = ("user-data", "meta-data/iam/")  # for the worker's uid only
_CREDENTIALS = "meta-data/iam/security-credentials"
ACCOUNT = "123456789012"  # moto's account


@dataclass(slots=True)
class _Instance:
    """One registered instance's metadata."""

    user_data: str
    zone: str
    region: str
    instance_type: str
    action: str | None = None  # the JSON body of spot/instance-action once interrupted


@dataclass(frozen=True, slots=True)
class _Token:
    """An IMDSv2 session token: whose, and until when."""

    instance_id: str
    expires_at: float  # on the clock's monotonic scale


class ImdsEmulator:
    """Serves instance metadata for local instances; an async context manager.

    `register` an instance, point its worker at `endpoint(instance_id)`, and `interrupt` it
    to serve AWS's spot interruption notice.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        trusted_uid: int | None = None,
        role: InstanceRole | None = None,
    ):
        self._trusted_uid = os.geteuid() if trusted_uid is None else trusted_uid
        self._host = host
        self._role = role
        self._port = port
        self._clock = clock or SystemClock()
        self._instances: dict[str, _Instance] = {}
        self._tokens: dict[str, _Token] = {}
        self._server: HttpServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("IMDS emulator not started")
        return f"http://{self._host}:{self.port}"

    def endpoint(self, instance_id: str) -> str:
        """The IMDS endpoint of one instance (what `CBAS_IMDS_ENDPOINT` should be)."""
        return f"{self.url}/{instance_id}"

    def register(
        self,
        instance_id: str,
        user_data: str,
        zone: str,
        *,
        region: str | None = None,
        instance_type: str | None = None,
    ) -> None:
        """`region`: where EC2 runs it (default: the zone's region)."""
        self._instances[instance_id] = _Instance(
            user_data=user_data,
            zone=zone,
            region=region or zone.rstrip("abcdefghijklmnopqrstuvwxyz"),
            instance_type=instance_type or "m1.small",
        )

    def interrupt(self, instance_id: str, *, at: datetime, action: str = "terminate") -> None:
        """From now on `spot/instance-action` announces `action` at `at` (KeyError if unknown)."""
        stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._instances[instance_id].action = json.dumps({"action": action, "time": stamp})

    def remove(self, instance_id: str) -> None:
        self._instances.pop(instance_id, None)
        if self._role is not None:
            self._role.forget(instance_id)
        self._tokens = {k: t for k, t in self._tokens.items() if t.instance_id != instance_id}

    @property
    def instances(self) -> list[str]:
        return sorted(self._instances)

    async def __aenter__(self) -> ImdsEmulator:
        app = web.Application()
        app.router.add_put("/{instance_id}/latest/api/token", self._token)
        app.router.add_get("/{instance_id}/latest/{path:.*}", self._metadata)
        server = HttpServer(app=app, host=self._host, port=self._port)
        await server.__aenter__()
        self._server = server
        self.port = server.port
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            await self._server.__aexit__(exc_type, exc, tb)
            self._server = None

    async def _token(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["instance_id"]
        if instance_id not in self._instances:
            return web.Response(status=404)
        try:
            ttl_s = int(request.headers[TTL_HEADER])
        except (KeyError, ValueError):
            return web.Response(status=400, text="missing or invalid " + TTL_HEADER)
        if not 1 <= ttl_s <= MAX_TTL_S:
            return web.Response(status=400, text=f"{TTL_HEADER} must be 1 to {MAX_TTL_S}")
        token = secrets.token_urlsafe(32)
        self._tokens[token] = _Token(instance_id, self._clock.monotonic() + ttl_s)
        return web.Response(text=token, headers={TTL_HEADER: str(ttl_s)})

    async def _metadata(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["instance_id"]
        instance = self._instances.get(instance_id)
        if instance is None:
            return web.Response(status=404)
        if not self._token_valid(request.headers.get(TOKEN_HEADER), instance_id):
            return web.Response(status=401)
        path = "/".join(part for part in request.match_info["path"].split("/") if part)
        if (path + "/").startswith(PRIVATE_PATHS) and not await self._trusted(request):
            return web.Response(status=403)
        value = await self._credentials(instance_id, instance.region, path) or self._value(
            instance_id, instance, path
        )
        if value is None:
            return web.Response(status=404)
        return web.Response(text=value)

    async def _trusted(self, request: web.Request) -> bool:
        transport = request.transport
        peer = transport.get_extra_info("peername") if transport else None
        server = transport.get_extra_info("sockname") if transport else None
        return await asyncio.to_thread(
            caller_is,
            self._trusted_uid,
            tuple(peer[:2]) if peer else None,
            tuple(server[:2]) if server else None,
        )

    def _token_valid(self, token: str | None, instance_id: str) -> bool:
        found = self._tokens.get(token or "")
        if found is None or found.instance_id != instance_id:
            return False
        if found.expires_at <= self._clock.monotonic():
            del self._tokens[token or ""]
            return False
        return True

    async def _credentials(self, instance_id: str, region: str, path: str) -> str | None:
        if self._role is None or not path.startswith(_CREDENTIALS):
            return None
        name = path.removeprefix(_CREDENTIALS).strip("/")
        if not name:
            return self._role.name(region)
        if name != self._role.name(region):
            return None
        return await self._role.credentials(instance_id, region)

    @staticmethod
    def _value(instance_id: str, instance: _Instance, path: str) -> str | None:
        values = {
            "user-data": instance.user_data,
            "meta-data/instance-id": instance_id,
            "meta-data/placement/availability-zone": instance.zone,
            "meta-data/placement/region": instance.region,
            "meta-data/instance-type": instance.instance_type,
            "meta-data/spot/instance-action": instance.action,
            "dynamic/instance-identity/document": _identity(instance_id, instance),
        }
        return values.get(path.rstrip("/"))


def _identity(instance_id: str, instance: _Instance) -> str:
    """The instance identity document, as EC2 serves it (the fields the local cloud knows)."""
    return json.dumps(
        {
            "accountId": ACCOUNT,
            "architecture": "x86_64",
            "availabilityZone": instance.zone,
            "instanceId": instance_id,
            "instanceType": instance.instance_type,
            "region": instance.region,
            "version": "2017-09-30",
        },
        indent=2,
    )
