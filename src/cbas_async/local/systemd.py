"""The local cloud's systemd, as much of it as a worker's unit needs: which units the boot
script enabled and started (the `systemctl` shim's record), and each unit's `ExecStart`,
`Environment=`, `Restart=on-failure` and `StartLimitBurst`. Pure: the hypervisor runs them.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from cbas_async.local.image import SYSTEMCTL_CALLS

UNIT_DIR = "etc/systemd/system"
DEFAULT_START_LIMIT_BURST = 5  # systemd's


@dataclass(frozen=True, slots=True, kw_only=True)
class Unit:
    """One service unit: what to run, with which environment, and whether to restart it."""

    name: str
    exec_start: list[str]
    environment: dict[str, str] = field(default_factory=dict)
    restart_on_failure: bool = False
    start_limit_burst: int = DEFAULT_START_LIMIT_BURST

    def restarts_after(self, returncode: int, restarts: int) -> bool:
        """`Restart=on-failure`: a non-zero exit or a signal, within the start limit."""
        return self.restart_on_failure and returncode != 0 and restarts < self.start_limit_burst


def parse_unit(name: str, text: str) -> Unit:
    """A unit file's `[Service]` and `[Unit]` keys this emulation honours; `ValueError`
    when it has no `ExecStart`."""
    environment: dict[str, str] = {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep or key.startswith(("#", ";", "[")):
            continue
        if key == "Environment":
            for assignment in shlex.split(value):
                var, _, setting = assignment.partition("=")
                environment[var] = setting
        else:
            values[key] = value.strip()
    if not values.get("ExecStart"):
        raise ValueError(f"unit {name} has no ExecStart")
    return Unit(
        name=name,
        exec_start=shlex.split(values["ExecStart"]),
        environment=environment,
        restart_on_failure=values.get("Restart") in ("on-failure", "always"),
        start_limit_burst=int(values.get("StartLimitBurst", DEFAULT_START_LIMIT_BURST)),
    )


def started_units(root: Path) -> list[Unit]:
    """The units `systemctl start` or `systemctl enable --now` named, in order, once each."""
    calls = root / SYSTEMCTL_CALLS
    lines = calls.read_text().splitlines() if calls.is_file() else []
    names: list[str] = []
    for line in lines:
        words = line.split()
        starts = words[:1] == ["start"] or (words[:1] == ["enable"] and "--now" in words)
        for word in words[1:] if starts else []:
            if not word.startswith("-") and _service(word) not in names:
                names.append(_service(word))
    return [parse_unit(n, (root / UNIT_DIR / n).read_text()) for n in names]


def _service(name: str) -> str:
    return name if "." in name else f"{name}.service"
