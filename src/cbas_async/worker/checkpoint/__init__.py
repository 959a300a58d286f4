"""Checkpointing: one `Checkpointer` interface, three methods (`app`, `dmtcp`, `none`),
archives (tar + zstd) and their storage in S3 with pointers in DynamoDB."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cbas_async.clock import Clock
from cbas_async.worker.checkpoint.app import AppCheckpointer
from cbas_async.worker.checkpoint.base import Checkpointer, CheckpointUnavailable
from cbas_async.worker.checkpoint.dmtcp import DmtcpCheckpointer
from cbas_async.worker.checkpoint.none import NoCheckpointer
from cbas_async.worker.jobuser import JobUser
from cbas_async.worker.paths import JobPaths

__all__ = ["CheckpointUnavailable", "Checkpointer", "make_checkpointer"]


def make_checkpointer(
    method: str,
    *,
    paths: JobPaths,
    clock: Clock,
    base_env: Mapping[str, str],
    dmtcp_bin: Path | None = None,
    user: JobUser | None = None,
) -> Checkpointer:
    """The checkpointer for a spec's `checkpoint.method`; `dmtcp_bin` is CBAS_DMTCP_BIN;
    `user` is who the job runs as (DMTCP's coordinator runs as it too)."""
    if method == "app":
        return AppCheckpointer(state_dir=paths.state, staging_dir=paths.staging)
    if method == "dmtcp":
        return DmtcpCheckpointer(
            state_dir=paths.state,
            staging_dir=paths.staging,
            tmp_dir=paths.tmp,
            clock=clock,
            base_env=base_env,
            dmtcp_bin=dmtcp_bin,
            user=user,
            output_dir=paths.logs,
        )
    if method == "none":
        return NoCheckpointer()
    raise ValueError(f"unknown checkpoint method {method!r}")
