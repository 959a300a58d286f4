"""What a policy is to the simulator: the `Policy` protocol it calls at each step, the
`Planner` protocol of a policy that can run under fast-forward, and the `PolicyContext`
a policy is built from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cbas_async.sim.plans import Plan
from cbas_async.sim.state import BoolArray, FloatArray, IntArray, SimState, Workload
from cbas_async.sim.trace import MarketTrace


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PolicyContext:
    """What a policy may know before its jobs start: the trace's past and the workload."""

    trace: MarketTrace
    workload: Workload
    starts: IntArray
    lookback_steps: int


class Policy(Protocol):
    """A vectorised online policy; it reads `SimState` and answers for many jobs at once."""

    @property
    def name(self) -> str: ...

    @property
    def saves_on_notice(self) -> bool:
        """Whether it checkpoints when an interruption notice arrives."""
        ...

    def launch(self, sim: SimState, jobs: IntArray) -> tuple[IntArray, FloatArray]:
        """For idle `jobs`: (pool per job, -1 to wait; max price per job)."""
        ...

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        """Per job: start a checkpoint now (None: never)."""
        ...

    def stop(self, sim: SimState) -> BoolArray | None:
        """Per job: leave the current instance (after a checkpoint) (None: never)."""
        ...

    def compact(self, keep: BoolArray) -> None:
        """The simulator dropped the rows of finished jobs: keep only these rows."""
        ...


@runtime_checkable
class Planner(Policy, Protocol):
    """A policy that can say what it will decide (for fast-forward); its rules must not
    read `sim.k` or `sim.elapsed_s`, as jobs are not in lockstep."""

    def plan(self, sim: SimState) -> Plan:
        """From each job's current step: see `Plan`."""
        ...
