"""The measured copy rate between regions: small copies tell nothing, each counted copy moves
the estimate part of the way, and the placement bills a move's copy at it."""

from __future__ import annotations

import pytest

from cbas_async.fleet.transfer_meter import MIB, MIN_BYTES, WEIGHT, TransferMeter
from cbas_async.handlers.regions import TransferRates


def test_the_configured_rate_stands_until_a_copy_is_measured() -> None:
    meter = TransferMeter(100.0)
    assert meter.mib_s == 100.0
    meter.record(MIN_BYTES - 1, 0.001)  # latency, not a rate
    meter.record(MIN_BYTES, 0.0)
    assert (meter.mib_s, meter.samples) == (100.0, 0)


def test_each_copy_moves_the_estimate_part_of_the_way() -> None:
    meter = TransferMeter(100.0)
    meter.record(int(400 * MIB), 10.0)  # 40 MiB/s
    assert meter.mib_s == pytest.approx(40.0)
    meter.record(int(800 * MIB), 10.0)  # 80 MiB/s
    assert meter.mib_s == pytest.approx(40.0 + WEIGHT * 40.0)
    assert meter.samples == 2


def test_a_moves_copy_time_is_billed_at_the_measured_rate() -> None:
    meter = TransferMeter(100.0)
    rates = TransferRates(egress_usd_per_gib=0.02, transfer_mib_s=100.0, meter=meter)
    size = 1024**3  # 1 GiB
    assert rates.copy(size).seconds == pytest.approx(1024 / 100.0)
    meter.record(int(512 * MIB), 51.2)  # 10 MiB/s
    assert rates.copy(size).seconds == pytest.approx(1024 / 10.0)
    assert rates.copy(size).usd == pytest.approx(0.02)
    assert TransferRates(transfer_mib_s=50.0).copy(size).seconds == pytest.approx(1024 / 50.0)
