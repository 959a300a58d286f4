"""When a broker job needs on-demand to meet its deadline: the slack it keeps in reserve.

In a spell without spot a job either waits or runs on on-demand. If switching were free,
the cheapest online rule would wait until the slack is gone and then make progress all the
time, on spot whenever some zone has room and on on-demand in between: no spot hour would
go unused, and on-demand would cover only the spells the deadline cannot wait out. What is
not free is each interruption: the work since the last save (after the notice, or since the
last checkpoint without one) and a restart. So a job keeps in reserve what the
interruptions its plan still expects will cost, padded by one standard deviation of their
(Poisson) count, on top of a guard: the deadline safety net's own margin and one round trip
through spot. It waits while its slack is above that, and bridges on on-demand below it.

Leaving on-demand for spot is a separate choice (a checkpoint, whose step does no work, and
a restart): the policy takes it when some zone's expected spell is worth the round trip and
the slack after the switch still covers the guard, so the switch cannot hand the job to the
safety net.

Uniform Progress (Wu et al., NSDI 2024) keeps a reserve that shrinks linearly with the time
left whatever the market, and stays on on-demand until it is back on its line; here the
reserve follows the interruptions the plan expects, so a job waits through outages while it
can afford to, bridges only when the deadline needs it, and returns to spot when it pays.

Every rule here reads each job's own clock (`SimState.own_elapsed_s`), so the broker also
runs under fast-forward; the safety net under the reserve is `safety.py`'s.
"""

from __future__ import annotations

import math

from cbas_async.sim.safety import checkpoint_steps_s, slack_s
from cbas_async.sim.state import BoolArray, FloatArray, IntArray, SimState


def reserve_s(*, loss_s: float, interruptions: float) -> float:
    """Slack to keep for a run expecting `interruptions` that cost `loss_s` of time in all:
    their mean plus one standard deviation of a Poisson count."""
    if interruptions <= 0:
        return max(loss_s, 0.0)
    return max(loss_s, 0.0) * (1.0 + 1.0 / math.sqrt(interruptions))


def switch_s(sim: SimState) -> float:
    """What a move from on-demand to spot costs in time: the steps of the checkpoint before
    leaving, then a restart."""
    return checkpoint_steps_s(sim) + sim.workload.restart_cost_s


def round_trip_s(sim: SimState) -> float:
    """What a spell on spot between two stretches on on-demand costs in time: the switch,
    the work since the notice (a step, without one), and a restart back."""
    notice_s = sim.trace.model.notice_s or sim.step_s
    return switch_s(sim) + notice_s + sim.workload.restart_cost_s


def guard_s(sim: SimState) -> float:
    """The safety net's guard (a step and a checkpoint) plus one round trip through spot:
    kept whatever the plan expects, or the safety net would commit the job to on-demand
    at the first interruption."""
    return sim.step_s + checkpoint_steps_s(sim) + round_trip_s(sim)


def spare_s(
    sim: SimState, jobs: IntArray, reserve_per_work: FloatArray, *, progress: FloatArray
) -> FloatArray:
    """Slack above the reserve and the guard, with this much progress kept."""
    reserve = reserve_per_work * (sim.workload.work_s - progress)
    spare: FloatArray = slack_s(sim, jobs, progress=progress) - reserve - guard_s(sim)
    return spare


def behind(sim: SimState, jobs: IntArray, reserve_per_work: FloatArray) -> BoolArray:
    """Below the reserve, unsaved work counted as lost: bridge on on-demand."""
    below: BoolArray = spare_s(sim, jobs, reserve_per_work, progress=sim.saved[jobs]) < 0
    return below


def can_switch(sim: SimState, jobs: IntArray) -> BoolArray:
    """After a switch to spot (leaving checkpoints the progress) the slack still covers the
    guard: the switch cannot hand the job to the safety net."""
    slack = slack_s(sim, jobs, progress=sim.x[jobs]) - switch_s(sim)
    able: BoolArray = slack >= guard_s(sim)
    return able
