"""Host-level knobs of the worker that are not deployment settings (see `agent.main_worker`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cbas_async.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerOptions:
    """Where the worker keeps its files, how its command endpoint listens, the job's base
    environment, and how often it ships logs and checks it still owns the job."""

    base_dir: Path | None = None  # default: <settings.home>/worker
    http_port: int = 0
    advertise_host: str | None = None  # default: the bind host (or the public IPv4)
    job_env: Mapping[str, str] = field(default_factory=dict)
    log_interval_s: float = 2.0
    pending_wait_s: float = 60.0  # a worker may boot before the master wrote LAUNCHING
    poweroff: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> WorkerOptions:
        """`CBAS_WORKER_DIR`, `CBAS_WORKER_HTTP_PORT`, `CBAS_WORKER_ADVERTISE_HOST`,
        `CBAS_WORKER_POWEROFF`; the job inherits `environ` minus AWS_* and CBAS_*."""
        port_text = environ.get("CBAS_WORKER_HTTP_PORT", "0")
        if not port_text.isdigit() or int(port_text) > 65535:
            raise ConfigError("CBAS_WORKER_HTTP_PORT", f"{port_text!r}: not a port number")
        base = environ.get("CBAS_WORKER_DIR")
        return cls(
            base_dir=Path(base) if base else None,
            http_port=int(port_text),
            advertise_host=environ.get("CBAS_WORKER_ADVERTISE_HOST") or None,
            job_env=dict(environ),
            poweroff=environ.get("CBAS_WORKER_POWEROFF", "").lower() in ("1", "true", "yes"),
        )
