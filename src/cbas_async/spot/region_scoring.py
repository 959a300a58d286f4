"""Placement across regions: the production broker's placement in each region, ranked by
expected cost to finish including what moving the job's checkpoint there costs. Pure.

A move to another region copies the checkpoint (egress USD per GiB, and the copy's time at
the measured rate, an instance's time without progress) before the restart. A launch that
has no saved progress moves nothing. For a running job, leaving also costs the checkpoint
that saves its progress and the restart; it moves proactively only when the expected
saving beats that cost by `MOVE_MARGIN` times (`worth_moving`): the estimates are a week's
averages, and a move that only just pays would, on a wrong estimate, lose money.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cbas_async.spot.broker import PlacementChoice

# a proactive move must save this many times its own cost
MOVE_MARGIN = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class MoveCost:
    """What a move to another region costs: dollars (egress) and instance seconds without
    progress (the copy; for a running job also its checkpoint and the restart)."""

    usd: float
    seconds: float

    def at(self, price_usd_per_hour: float) -> float:
        """In dollars, the seconds billed at this hourly price."""
        return self.usd + self.seconds / 3600.0 * price_usd_per_hour


@dataclass(frozen=True, slots=True, kw_only=True)
class RegionOption:
    """A region's best placement and its expected cost to finish, the move included."""

    region: str
    placement: PlacementChoice
    finish_usd: float  # the placement's expected cost, without a move
    move_usd: float  # 0 where the checkpoint already is, or when nothing moves

    @property
    def cost_usd(self) -> float:
        return self.finish_usd + self.move_usd


def hourly_rate(placement: PlacementChoice, work_hours: float) -> float:
    """Expected USD per hour of work of a placement (what a second of overhead costs)."""
    cost = placement.expected_cost_usd or 0.0
    return cost / work_hours if work_hours > 0 else 0.0


def rank_regions(
    placements: Mapping[str, PlacementChoice],
    *,
    here: str,
    move: MoveCost | None,
    work_hours: float,
) -> list[RegionOption]:
    """Regions with a spot placement, cheapest first (ties: the current region). `move`
    None: nothing to copy (no saved progress), a move is free."""
    options = []
    for region, placement in placements.items():
        if placement.market != "spot" or placement.expected_cost_usd is None:
            continue
        moving = move is not None and region != here
        rate = hourly_rate(placement, work_hours)
        options.append(
            RegionOption(
                region=region,
                placement=placement,
                finish_usd=placement.expected_cost_usd,
                move_usd=move.at(rate) if moving and move is not None else 0.0,
            )
        )
    return sorted(options, key=lambda o: (o.cost_usd, o.region != here))


def worth_moving(
    options: list[RegionOption], *, here: str, margin: float = MOVE_MARGIN
) -> RegionOption | None:
    """The region a running job should move to now, or None: the other region whose
    saving over staying, less `margin` times its move's cost, is largest, if that is
    above 0."""
    stay = next((o for o in options if o.region == here), None)
    others = [o for o in options if o.region != here]
    if stay is None or not others:
        return None

    def gain(option: RegionOption) -> float:
        return stay.finish_usd - option.finish_usd - margin * option.move_usd

    best = max(others, key=gain)
    return best if gain(best) > 0 else None
