"""The policy names `cbas simulate` knows, and how to build each for one simulation run."""

from __future__ import annotations

from collections.abc import Callable

from cbas_async.sim.baselines import OnDemand, SpotNoCheckpoint
from cbas_async.sim.broker_policy import BrokerPolicy
from cbas_async.sim.checkpointing import YiAdaptive, YiEdge, YiHour, YoungDaly
from cbas_async.sim.deadline import UniformProgress
from cbas_async.sim.options import NAMES
from cbas_async.sim.policy import Policy, PolicyContext
from cbas_async.sim.region_broker import RegionBroker
from cbas_async.sim.uniform_multi import UniformProgressMulti
from cbas_async.spot.history import PriceHistory

OPTIMUM = "optimum"
_BUILDERS: dict[str, Callable[[PolicyContext, PriceHistory | None], Policy]] = {
    "ondemand": lambda ctx, _: OnDemand(ctx),
    "spot-no-ckpt": lambda ctx, _: SpotNoCheckpoint(ctx),
    "yi-hour": lambda ctx, _: YiHour(ctx),
    "yi-edge": lambda ctx, _: YiEdge(ctx),
    "yi-adaptive": lambda ctx, _: YiAdaptive(ctx),
    "young-daly": lambda ctx, _: YoungDaly(ctx),
    "uniform-progress": lambda ctx, _: UniformProgress(ctx),
    "uniform-progress-multi": lambda ctx, _: UniformProgressMulti(ctx),
    "broker": lambda ctx, history: _broker(ctx, history),
}


def _broker(ctx: PolicyContext, history: PriceHistory | None) -> Policy:
    """Across regions on a trace that has several, else the single-market broker."""
    return RegionBroker(ctx, history) if ctx.trace.multi_region else BrokerPolicy(ctx, history)


POLICY_NAMES: tuple[str, ...] = NAMES  # in the order of `cbas simulate --help`


def parse_policies(text: str) -> list[str]:
    """`all` or a comma-separated list of names; raises ValueError naming unknown ones."""
    if text.strip() == "all":
        return list(POLICY_NAMES)
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in POLICY_NAMES]
    if unknown or not names:
        raise ValueError(
            f"unknown policy {', '.join(unknown) or '(none)'}; known: {', '.join(POLICY_NAMES)}"
        )
    return names


def make_policy(name: str, ctx: PolicyContext, history: PriceHistory | None = None) -> Policy:
    """A fresh policy for one run (policies keep per-job state). Not for `optimum`."""
    return _BUILDERS[name](ctx, history)
