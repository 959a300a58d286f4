"""Spot intelligence: prices and availability, market models, the simulator, the policies,
the offline optimum and the broker. Everything here is pure except `prices.py` (EC2 and
CSV sources) and the command-line helpers (`cli.py`, `scenario.py`, `plot.py`).

The master uses `choose_placement` (broker) and `attempt_cost` (cost); `cbas simulate`
is `options.add_arguments` (light: the `cbas` parser every process builds) + `cli.run`.
"""

from cbas_async.spot.broker import BrokerJob, Placement, choose_placement
from cbas_async.spot.cost import AttemptCost, JobCost, attempt_cost, job_cost
from cbas_async.spot.history import PriceHistory, PriceSeries
from cbas_async.spot.market import BID_ERA, CURRENT_ERA, Billing, MarketModel, model_for
from cbas_async.spot.prices import (
    Ec2PriceSource,
    PricePoint,
    PriceSource,
    TracePriceSource,
    read_ondemand_csv,
    read_price_csv,
)

__all__ = [
    "BID_ERA",
    "CURRENT_ERA",
    "AttemptCost",
    "Billing",
    "BrokerJob",
    "Ec2PriceSource",
    "JobCost",
    "MarketModel",
    "Placement",
    "PriceHistory",
    "PricePoint",
    "PriceSeries",
    "PriceSource",
    "TracePriceSource",
    "attempt_cost",
    "choose_placement",
    "job_cost",
    "model_for",
    "read_ondemand_csv",
    "read_price_csv",
]
