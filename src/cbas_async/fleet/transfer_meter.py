"""The rate at which this master's checkpoint copies between regions go, as measured: what
the placement across regions bills a move's copy time at, once there is a measurement.

Only copies of at least `MIN_BYTES` count: a small copy's time is the request's latency, not
a rate. Each counted copy moves the estimate `WEIGHT` of the way to its own rate, so a slow
or fast spell shows within a few copies. Until the first, the configured rate
(`CBAS_TRANSFER_MIB_S`) stands."""

from __future__ import annotations

MIB = 1024.0**2
MIN_BYTES = 64 * 1024**2
WEIGHT = 0.3


class TransferMeter:
    """MiB/s of the copies so far, falling back to `default_mib_s`."""

    def __init__(self, default_mib_s: float) -> None:
        self._default = default_mib_s
        self._measured: float | None = None
        self.samples = 0

    @property
    def mib_s(self) -> float:
        return self._measured if self._measured is not None else self._default

    def record(self, size_bytes: int, seconds: float) -> None:
        """One finished copy; too small or instantaneous ones tell nothing and are skipped."""
        if size_bytes < MIN_BYTES or seconds <= 0:
            return
        rate = size_bytes / MIB / seconds
        previous = self._measured
        self._measured = rate if previous is None else previous + WEIGHT * (rate - previous)
        self.samples += 1
