"""One frozen `Settings` object: every `CBAS_*` variable with its type, default and check.

pydantic-settings reads the variables: field `lease_ttl_s` is `CBAS_LEASE_TTL_S` (exact case)
unless the field names another variable in `validation_alias`. To add a setting, add a field.
Only the entry points read `os.environ`; everything else builds settings with
`Settings.from_env(mapping)` or keywords, and changes them with `replace` (CLI flags). A bad
value raises `ConfigError` naming the variable.
"""

from __future__ import annotations

import difflib
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog
from pydantic import AliasGenerator, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

from cbas_async.errors import ConfigError
from cbas_async.settings_types import (
    Count,
    Deployment,
    OptionalCount,
    OptionalPath,
    OptionalText,
    OptionalTime,
    Port,
    Rate,
    Regions,
    Seconds,
    Usd,
)

log = structlog.get_logger(__name__)

_PREFIX = "CBAS_"
# read from the same environment by the worker, the job or `cbas interrupt`: not typos
_READ_ELSEWHERE = frozenset(
    {
        "CBAS_LOCAL_CONTROL_URL",
        "CBAS_WORKER_DIR",
        "CBAS_WORKER_HTTP_PORT",
        "CBAS_WORKER_ADVERTISE_HOST",
        "CBAS_WORKER_POWEROFF",
        "CBAS_JOB_ID",
        "CBAS_ATTEMPT",
        "CBAS_CHECKPOINT_DIR",
    }
)


class Settings(BaseSettings):
    """Everything configurable. Components take only the fields they need."""

    model_config = SettingsConfigDict(
        alias_generator=AliasGenerator(validation_alias=lambda name: _PREFIX + name.upper()),
        case_sensitive=True,
        frozen=True,
        extra="forbid",
        validate_by_name=True,
    )

    region: str = "us-east-1"  # this process's region: its instances, bucket, queues, topics
    # every region of the deployment, the home region (the tables) first; empty: `region` only
    regions: Regions = ()
    endpoint_url: OptionalText = None
    deployment: Deployment = "cbas"
    home: Path = Field(default_factory=lambda: Path.home() / ".cbas")
    master_id: str = Field(default_factory=lambda: "m-" + secrets.token_hex(4))
    http_host: str = "127.0.0.1"
    http_port: Port = 8080
    public_url: OptionalText = None  # set: SNS also POSTs to <url>/sns (the queue is always read)
    heartbeat_interval_s: Seconds = 5.0
    lost_worker_timeout_s: Seconds = 30.0
    launch_timeout_s: Seconds = 300.0  # boot to first ping; EC2 takes a minute or two
    lease_ttl_s: Seconds = 30.0
    supervise_interval_s: Seconds = 2.0
    shutdown_grace_s: Seconds = 25.0
    sns_verify: bool = True
    max_body_bytes: Count = 256 * 1024
    imds_endpoint: str = "http://169.254.169.254"
    notice_poll_s: Seconds = 5.0
    speed: Seconds = 1.0  # how much faster than real time the local market runs
    # unset: the current Amazon Linux 2023 image, read from its public SSM parameter at start
    worker_image_id: OptionalText = None
    subnet_id: OptionalText = None  # the workers' subnet; unset: the region's default VPC
    api_token: OptionalText = None
    api_url: OptionalText = None  # set: the user commands go through this master's REST API
    metrics_public: bool = False  # True: /metrics answers without an admin token
    # True: the master issues each attempt session keys scoped to its job (`job_keys.py`)
    job_credentials: bool = True
    aws_retry_s: Seconds = 60.0  # how long DynamoDB calls retry throttling and outages
    price_refresh_s: Seconds = 300.0  # how often the master refreshes spot prices
    price_trace: OptionalPath = None  # a price CSV replayed instead of EC2's price history
    trace_epoch: OptionalTime = None  # the wall time the trace replay starts at (shared)
    ondemand_csv: OptionalPath = None  # on-demand prices on top of the built-in table
    dmtcp_bin: OptionalPath = None  # a folder of DMTCP tools workers search before the host PATH
    # the most vCPUs of live workers; unset: the spot vCPU quota, else 256 (fleet/quotas.py)
    max_vcpus: OptionalCount = None
    egress_usd_per_gib: Usd = 0.02  # S3 out of a region (a move)
    transfer_mib_s: Rate = 100.0  # checkpoint copy between regions
    move_check_s: Seconds = 300.0  # how often a running job is weighed for a move
    aws_access_key_id: OptionalText = Field(None, validation_alias="AWS_ACCESS_KEY_ID")
    aws_secret_access_key: OptionalText = Field(None, validation_alias="AWS_SECRET_ACCESS_KEY")

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        """Checks across fields; `ConfigError` passes through pydantic unchanged."""
        if self.lost_worker_timeout_s <= self.heartbeat_interval_s:
            raise ConfigError(
                "CBAS_LOST_WORKER_TIMEOUT_S", "must be longer than CBAS_HEARTBEAT_INTERVAL_S"
            )
        if (self.aws_access_key_id is None) != (self.aws_secret_access_key is None):
            raise ConfigError("AWS_SECRET_ACCESS_KEY", "set both AWS keys or neither")
        if (
            self.public_url is not None
            and self.sns_verify
            and not self.public_url.startswith("https://")
        ):
            raise ConfigError("CBAS_PUBLIC_URL", f"{self.public_url!r}: SNS must POST over https")
        if self.regions and self.region not in self.regions:
            named = ",".join(self.regions)
            raise ConfigError("CBAS_REGION", f"{self.region!r} is not one of CBAS_REGIONS {named}")
        if self.api_url is not None and not self.api_url.startswith(("http://", "https://")):
            raise ConfigError("CBAS_API_URL", f"{self.api_url!r}: must start with http(s)://")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keywords only: the environment is read by `from_env`, never behind one's back."""
        return (init_settings,)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build from a mapping such as `os.environ`; unknown `CBAS_*` names are logged."""
        for name in unknown_variables(environ):
            hint = difflib.get_close_matches(name, sorted(_variables()), n=1)
            log.warning("unknown_setting", variable=name, did_you_mean=hint[0] if hint else None)
        return _validated(_MappingSource(cls, environ)())

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed, checked like a new one (CLI flags, tests)."""
        return _validated({**self.model_dump(), **changes})

    def to_env(self) -> dict[str, str]:
        """The variables that rebuild these settings (for local.env and child processes)."""
        out: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if isinstance(value, tuple):
                if value:
                    out[variable(name)] = ",".join(value)
            elif value is not None:
                out[variable(name)] = str(value).lower() if isinstance(value, bool) else str(value)
        return out

    @property
    def all_regions(self) -> tuple[str, ...]:
        """The deployment's regions, the home region first."""
        return self.regions or (self.region,)

    @property
    def home_region(self) -> str:
        """Where the tables are: every process of the deployment reads and writes them there."""
        return self.all_regions[0]

    def in_region(self, region: str) -> Settings:
        """These settings as a process of `region` of the same deployment would have them."""
        return self if region == self.region else self.replace(region=region)

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
    def tokens_table(self) -> str:
        """API token hashes: a table no worker policy names."""
        return f"{self.deployment}-tokens"

    @property
    def credentials_table(self) -> str:
        """Each attempt's session keys, keyed `<worker role id>:<instance id>`."""
        return f"{self.deployment}-credentials"

    @property
    def ping_queue(self) -> str:
        return f"{self.deployment}-ping"

    @property
    def events_queue(self) -> str:
        """Where the events topic delivers to the masters (no inbound port needed)."""
        return f"{self.deployment}-master-events"

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


def variable(field_name: str) -> str:
    """The environment variable of a `Settings` field: `speed` -> `CBAS_SPEED`."""
    return str(Settings.model_fields[field_name].validation_alias)  # a str for every field


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """`CBAS_*` names that nothing reads: most likely typos of a setting."""
    known = _variables() | _READ_ELSEWHERE
    return sorted(name for name in environ if name.startswith(_PREFIX) and name not in known)


def _variables() -> set[str]:
    return {variable(name) for name in Settings.model_fields}


class _MappingSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping instead of os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


def _validated(values: Mapping[str, Any]) -> Settings:
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise _config_error(exc.errors()[0]) from None


def _config_error(error: ErrorDetails) -> ConfigError:
    """The first problem pydantic found, as "CBAS_X: 'value': what is wrong"."""
    named = str(error["loc"][0]) if error["loc"] else "settings"
    if named in Settings.model_fields:  # validated by field name (`replace`), not by variable
        named = variable(named)
    if error["type"] == "extra_forbidden":
        return ConfigError(named, "not a setting")
    problem = str(error.get("ctx", {}).get("error", "")) or error["msg"]
    return ConfigError(named, f"{error['input']!r}: {problem}")
