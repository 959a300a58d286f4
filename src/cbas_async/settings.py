"""One frozen `Settings` object, built from `CBAS_*` variables (and CLI flags via `replace`)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from cbas_async.clock import parse_utc
from cbas_async.errors import ConfigError

_DEPLOYMENT = re.compile(r"^[a-z][a-z0-9-]{0,19}$")


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("must be a number above 0")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError("must be a port number from 0 to 65535")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be a whole number of at least 1")
    return value


def _optional(text: str) -> str | None:
    return text.strip() or None


def _optional_path(text: str) -> Path | None:
    return Path(text.strip()) if text.strip() else None


def _optional_time(text: str) -> datetime | None:
    return parse_utc(text.strip()) if text.strip() else None


# field name -> (environment variable, parser)
_SOURCES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "region": ("CBAS_REGION", str),
    "endpoint_url": ("CBAS_ENDPOINT_URL", _optional),
    "deployment": ("CBAS_DEPLOYMENT", str),
    "home": ("CBAS_HOME", Path),
    "master_id": ("CBAS_MASTER_ID", str),
    "http_host": ("CBAS_HTTP_HOST", str),
    "http_port": ("CBAS_HTTP_PORT", _port),
    "public_url": ("CBAS_PUBLIC_URL", _optional),
    "heartbeat_interval_s": ("CBAS_HEARTBEAT_INTERVAL_S", _positive_float),
    "lost_worker_timeout_s": ("CBAS_LOST_WORKER_TIMEOUT_S", _positive_float),
    "launch_timeout_s": ("CBAS_LAUNCH_TIMEOUT_S", _positive_float),
    "lease_ttl_s": ("CBAS_LEASE_TTL_S", _positive_float),
    "supervise_interval_s": ("CBAS_SUPERVISE_INTERVAL_S", _positive_float),
    "shutdown_grace_s": ("CBAS_SHUTDOWN_GRACE_S", _positive_float),
    "sns_verify": ("CBAS_SNS_VERIFY", _bool),
    "max_body_bytes": ("CBAS_MAX_BODY_BYTES", _positive_int),
    "imds_endpoint": ("CBAS_IMDS_ENDPOINT", str),
    "notice_poll_s": ("CBAS_NOTICE_POLL_S", _positive_float),
    "speed": ("CBAS_SPEED", _positive_float),
    "worker_image_id": ("CBAS_WORKER_IMAGE_ID", str),
    "api_token": ("CBAS_API_TOKEN", _optional),
    "api_url": ("CBAS_API_URL", _optional),
    "aws_retry_s": ("CBAS_AWS_RETRY_S", _positive_float),
    "price_refresh_s": ("CBAS_PRICE_REFRESH_S", _positive_float),
    "price_trace": ("CBAS_PRICE_TRACE", _optional_path),
    "trace_epoch": ("CBAS_TRACE_EPOCH", _optional_time),
    "ondemand_csv": ("CBAS_ONDEMAND_CSV", _optional_path),
    "aws_access_key_id": ("AWS_ACCESS_KEY_ID", _optional),
    "aws_secret_access_key": ("AWS_SECRET_ACCESS_KEY", _optional),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything configurable. Components take only the fields they need."""

    region: str = "us-east-1"
    endpoint_url: str | None = None
    deployment: str = "cbas"
    home: Path = field(default_factory=lambda: Path.home() / ".cbas")
    master_id: str = field(default_factory=lambda: "m-" + secrets.token_hex(4))
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    public_url: str | None = None
    heartbeat_interval_s: float = 5.0
    lost_worker_timeout_s: float = 30.0
    launch_timeout_s: float = 300.0  # boot to first ping; EC2 takes a minute or two
    lease_ttl_s: float = 30.0
    supervise_interval_s: float = 2.0
    shutdown_grace_s: float = 25.0
    sns_verify: bool = True
    max_body_bytes: int = 256 * 1024
    imds_endpoint: str = "http://169.254.169.254"
    notice_poll_s: float = 5.0
    speed: float = 1.0
    worker_image_id: str = "ami-12c6146b"
    api_token: str | None = None
    api_url: str | None = None  # set: the user commands go through this master's REST API
    aws_retry_s: float = 60.0  # how long DynamoDB calls retry throttling and outages
    price_refresh_s: float = 300.0  # how often the master refreshes spot prices
    price_trace: Path | None = None  # a price CSV replayed instead of EC2's price history
    trace_epoch: datetime | None = None  # the wall time the trace replay starts at (shared)
    ondemand_csv: Path | None = None  # on-demand prices on top of the built-in table
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None

    def __post_init__(self) -> None:
        if not _DEPLOYMENT.match(self.deployment):
            raise ConfigError(
                "CBAS_DEPLOYMENT", "must be 1-20 of a-z, 0-9 and '-', starting with a letter"
            )
        if self.lost_worker_timeout_s <= self.heartbeat_interval_s:
            raise ConfigError(
                "CBAS_LOST_WORKER_TIMEOUT_S", "must be longer than CBAS_HEARTBEAT_INTERVAL_S"
            )
        if (self.aws_access_key_id is None) != (self.aws_secret_access_key is None):
            raise ConfigError("AWS_SECRET_ACCESS_KEY", "set both AWS keys or neither")
        if self.api_url is not None and not self.api_url.startswith(("http://", "https://")):
            raise ConfigError("CBAS_API_URL", f"{self.api_url!r}: must start with http(s)://")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build from a mapping such as `os.environ`; unknown `CBAS_*` names are ignored."""
        values: dict[str, Any] = {}
        for name, (variable, parse) in _SOURCES.items():
            if variable not in environ:
                continue
            try:
                values[name] = parse(environ[variable])
            except ValueError as exc:
                raise ConfigError(variable, f"{environ[variable]!r}: {exc}") from exc
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The variables that rebuild these settings (for local.env and child processes)."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            text = str(value).lower() if isinstance(value, bool) else str(value)
            out[_SOURCES[f.name][0]] = text
        return out

    # resource names: every AWS resource carries the deployment prefix
    @property
    def jobs_table(self) -> str:
        return f"{self.deployment}-jobs"

    @property
    def events_table(self) -> str:
        return f"{self.deployment}-job-events"

    @property
    def misc_table(self) -> str:
        return f"{self.deployment}-misc"

    @property
    def ping_queue(self) -> str:
        return f"{self.deployment}-ping"

    @property
    def topic(self) -> str:
        return f"{self.deployment}-commands"

    @property
    def events_topic(self) -> str:
        """Where EventBridge delivers EC2 spot interruption warnings for the masters."""
        return f"{self.deployment}-spot-events"

    @property
    def scaled_notice_s(self) -> float:
        """The 2-minute spot notice, compressed by the local market's speed."""
        return 120.0 / self.speed
