"""The master's view of the spot market: the latest price history, the on-demand prices and
the market model. The price fetcher replaces the history; the placer and the costing read it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cbas_async.spot.eras import MarketModel
from cbas_async.spot.history import PriceHistory
from cbas_async.spot.prices import read_ondemand_csv

# us-east-1 Linux on-demand list prices (USD/h) of common types: shared/data/spot/ondemand.csv
# (newest row per type) and AWS's list for t3.micro/small; `CBAS_ONDEMAND_CSV` adds to them
BUILTIN_ONDEMAND_USD_PER_HOUR: Mapping[str, float] = {
    "t3.micro": 0.0104,
    "t3.small": 0.0208,
    "t3.medium": 0.0416,
    "t3.large": 0.0832,
    "m3.medium": 0.067,
    "m4.large": 0.1,
    "m5.large": 0.096,
    "m5.xlarge": 0.192,
    "c3.xlarge": 0.21,
    "c4.large": 0.1,
    "c5.large": 0.085,
    "c5.xlarge": 0.17,
    "c5.2xlarge": 0.34,
    "r3.large": 0.166,
    "r5.large": 0.126,
    "r5.xlarge": 0.252,
    "g2.2xlarge": 0.65,
    "d2.8xlarge": 5.52,
    "p3.2xlarge": 3.06,
    "p3.16xlarge": 24.48,
}


@dataclass
class PriceBook:
    """Shared, replaced wholesale: `history` is immutable, so readers never see half a merge."""

    model: MarketModel
    ondemand: dict[str, float]
    history: PriceHistory = field(default_factory=lambda: PriceHistory({}))
    updated_at: datetime | None = None

    def ondemand_price(self, instance_type: str) -> float | None:
        return self.ondemand.get(instance_type)


def ondemand_prices(
    path: Path | None, *, near: datetime | None, region: str = "us-east-1"
) -> dict[str, float]:
    """The built-in table, with the CSV's prices (the rows nearest `near`) on top."""
    prices = dict(BUILTIN_ONDEMAND_USD_PER_HOUR)
    if path is not None:
        prices.update(read_ondemand_csv(path, near=near, region=region))
    return prices
