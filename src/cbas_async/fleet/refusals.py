"""The launches EC2 refuses for a configuration or permission reason (`LaunchRefused`): each
distinct cause is logged once, not once per job, and kept for `/healthz` (degraded, with
the reason) until a launch lands."""

from __future__ import annotations

import structlog

from cbas_async.fleet.launch_errors import LaunchRefused

log = structlog.get_logger(__name__)


class LaunchRefusals:
    """The distinct causes of refused launches since the last launch that landed."""

    def __init__(self) -> None:
        self._causes: dict[tuple[str, str], str] = {}  # (code, fix) -> the full reason

    def refused(self, error: LaunchRefused) -> bool:
        """Note a refusal; True (and one log line) when its cause is new."""
        key = (error.code, error.fix)
        if key in self._causes:
            return False
        self._causes[key] = str(error)
        log.error("launch_refused", code=error.code, fix=error.fix, reason=str(error))
        return True

    def landed(self) -> None:
        """A launch landed: the configuration works again."""
        if self._causes:
            log.info("launch_refusals_cleared", causes=len(self._causes))
            self._causes.clear()

    def reasons(self) -> list[str]:
        return list(self._causes.values())
