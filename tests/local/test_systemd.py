"""The local cloud's systemd: units started by the boot script, parsed and restarted as
`Restart=on-failure` says."""

from __future__ import annotations

from pathlib import Path

import pytest

from cbas_async.local.image import SYSTEMCTL_CALLS
from cbas_async.local.systemd import UNIT_DIR, parse_unit, started_units

UNIT = """[Unit]
Description=x
StartLimitBurst=3

[Service]
Environment="A=1" "B=two words"
Environment="EMPTY="
# Environment="IGNORED=1"
ExecStart=/opt/cbas/0.1.0/bin/python -m cbas_async worker
Restart=on-failure
"""


def test_a_unit_file_is_parsed() -> None:
    unit = parse_unit("cbas-worker.service", UNIT)
    assert unit.exec_start == ["/opt/cbas/0.1.0/bin/python", "-m", "cbas_async", "worker"]
    assert unit.environment == {"A": "1", "B": "two words", "EMPTY": ""}
    assert unit.restart_on_failure
    assert unit.start_limit_burst == 3


def test_restart_on_failure_within_the_start_limit() -> None:
    unit = parse_unit("u", UNIT)
    assert not unit.restarts_after(0, 0)  # a clean exit ends the unit
    assert unit.restarts_after(1, 0)
    assert unit.restarts_after(-9, 2)  # killed by a signal
    assert not unit.restarts_after(1, 3)  # the start limit
    assert not parse_unit("u", "ExecStart=/bin/true\n").restarts_after(1, 0)


def test_a_unit_without_exec_start_is_refused() -> None:
    with pytest.raises(ValueError, match="no ExecStart"):
        parse_unit("u", "[Service]\nRestart=on-failure\n")


def test_started_units_are_those_enabled_now_or_started(tmp_path: Path) -> None:
    (tmp_path / UNIT_DIR).mkdir(parents=True)
    for name in ("a", "b", "c"):
        (tmp_path / UNIT_DIR / f"{name}.service").write_text(f"ExecStart=/bin/{name}\n")
    (tmp_path / SYSTEMCTL_CALLS).parent.mkdir(parents=True)
    calls = "daemon-reload\nenable b.service\nenable --now a.service\nstart c\nstart a\n"
    (tmp_path / SYSTEMCTL_CALLS).write_text(calls)
    assert [u.name for u in started_units(tmp_path)] == ["a.service", "c.service"]
    assert started_units(tmp_path / "nothing") == []
