"""IMDSv2 client: a session token first (PUT), then metadata GETs with that token.

The endpoint may carry a path prefix: the local cloud's emulator serves each instance at
`http://127.0.0.1:PORT/<instance_id>`, EC2 at `http://169.254.169.254`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import aiohttp

from cbas_async.clock import parse_utc
from cbas_async.errors import InvalidMessage, TransientError
from cbas_async.fleet.userdata import descriptor_text
from cbas_async.messages import UserData, decode

TOKEN_HEADER = "X-aws-ec2-metadata-token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_TTL_S = 21600  # the most IMDS grants: six hours


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceAction:
    """A spot interruption notice: what EC2 will do to the instance, and when."""

    action: str
    time: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """Who this worker is: its instance, its zone and the user data the master gave it."""

    instance_id: str
    zone: str
    user_data: UserData


class ImdsClient:
    """Reads instance metadata over IMDSv2; a token that stops working is renewed once.

    Raises `TransientError` when IMDS cannot be reached or answers 5xx, and
    `InvalidMessage` when an answer is malformed.
    """

    def __init__(
        self, *, http: aiohttp.ClientSession, endpoint: str, timeout_s: float = 2.0
    ) -> None:
        self._http = http
        self._base = endpoint.rstrip("/") + "/latest/"
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._token: str | None = None

    async def get(self, path: str) -> str | None:
        """The text at `latest/<path>`, or None when IMDS has nothing there (404)."""
        for renew in (False, True):
            if renew or self._token is None:
                self._token = await self._new_token()
            status, text = await self._request("GET", path, {TOKEN_HEADER: self._token})
            if status == 200:
                return text
            if status == 404:
                return None
            if status != 401:
                raise _error(path, status)
        raise TransientError(f"IMDS refused a fresh token for {path}")

    async def require(self, path: str) -> str:
        value = await self.get(path)
        if value is None:
            raise InvalidMessage(f"IMDS has no {path}")
        return value

    async def instance_id(self) -> str:
        return (await self.require("meta-data/instance-id")).strip()

    async def availability_zone(self) -> str:
        return (await self.require("meta-data/placement/availability-zone")).strip()

    async def public_ipv4(self) -> str | None:
        value = await self.get("meta-data/public-ipv4")
        return value.strip() if value else None

    async def user_data(self) -> UserData:
        """The job descriptor: the JSON part of the cloud-init document."""
        return decode(UserData, descriptor_text(await self.require("user-data")))

    async def instance_action(self) -> InstanceAction | None:
        """The pending spot interruption, or None while there is none (404)."""
        text = await self.get("meta-data/spot/instance-action")
        return None if text is None else parse_instance_action(text)

    async def rebalance_recommendation(self) -> datetime | None:
        """When EC2 recommended rebalancing away from this spot instance (an elevated risk of
        interruption, often before any notice), or None while it has not (404)."""
        text = await self.get("meta-data/events/recommendations/rebalance")
        return None if text is None else parse_rebalance(text)

    async def identity(self) -> Identity:
        return Identity(
            instance_id=await self.instance_id(),
            zone=await self.availability_zone(),
            user_data=await self.user_data(),
        )

    async def _new_token(self) -> str:
        status, text = await self._request("PUT", "api/token", {TTL_HEADER: str(TOKEN_TTL_S)})
        if status != 200 or not text:
            raise _error("api/token", status)
        if not (text.isascii() and text.isprintable()):  # it goes into a header as is
            raise InvalidMessage(f"IMDS api/token: malformed token {text[:40]!r}")
        return text

    async def _request(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, str]:
        url = self._base + path
        try:
            async with self._http.request(
                method, url, headers=headers, timeout=self._timeout, allow_redirects=False
            ) as response:
                return response.status, await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"IMDS {method} {path}: {exc!r}") from exc
        except UnicodeDecodeError as exc:
            raise InvalidMessage(f"IMDS {method} {path}: answer is not text: {exc}") from exc


def parse_instance_action(text: str) -> InstanceAction:
    """AWS's `{"action": "terminate", "time": "2026-11-27T19:02:00Z"}`."""
    try:
        data = json.loads(text)
        return InstanceAction(action=str(data["action"]), time=parse_utc(str(data["time"])))
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise InvalidMessage(f"IMDS instance-action is malformed: {text[:200]!r}") from exc


def parse_rebalance(text: str) -> datetime:
    """AWS's `{"noticeTime": "2020-11-05T08:22:00Z"}`."""
    try:
        return parse_utc(str(json.loads(text)["noticeTime"]))
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise InvalidMessage(f"IMDS rebalance recommendation is malformed: {text[:200]!r}") from exc


def _error(path: str, status: int) -> TransientError | InvalidMessage:
    if status >= 500:
        return TransientError(f"IMDS {path}: HTTP {status}")
    return InvalidMessage(f"IMDS {path}: HTTP {status}")
