"""Job states and the legal transitions between them (pure: no I/O).

SUBMITTED -> PENDING <-> LAUNCHING -> RUNNING -> SUCCEEDED
               ^           |            |  \\-> FAILED
               |           v            v
               \\-------- INTERRUPTED <--/      CANCELLED (from any live state)

LAUNCHING -> PENDING keeps the attempt: the launch started no instance.
"""

from __future__ import annotations

import itertools
from enum import StrEnum

from cbas_async.errors import IllegalTransition


class JobState(StrEnum):
    """Where a job is in its life."""

    SUBMITTED = "SUBMITTED"
    PENDING = "PENDING"
    LAUNCHING = "LAUNCHING"
    RUNNING = "RUNNING"
    INTERRUPTED = "INTERRUPTED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})
LIVE = frozenset(JobState) - TERMINAL

_S = JobState
LEGAL: dict[JobState, frozenset[JobState]] = {
    _S.SUBMITTED: frozenset({_S.PENDING, _S.FAILED, _S.CANCELLED}),
    # PENDING -> FAILED: no placement can ever satisfy the job (e.g. attempts exhausted)
    _S.PENDING: frozenset({_S.LAUNCHING, _S.FAILED, _S.CANCELLED}),
    # LAUNCHING -> PENDING: EC2 started no instance (capacity, quota, price, configuration);
    # the attempt is kept. LAUNCHING -> FAILED: the launch can never succeed
    _S.LAUNCHING: frozenset({_S.PENDING, _S.RUNNING, _S.INTERRUPTED, _S.FAILED, _S.CANCELLED}),
    _S.RUNNING: frozenset({_S.SUCCEEDED, _S.FAILED, _S.INTERRUPTED, _S.CANCELLED}),
    # INTERRUPTED -> FAILED: max_attempts reached
    _S.INTERRUPTED: frozenset({_S.PENDING, _S.FAILED, _S.CANCELLED}),
    _S.SUCCEEDED: frozenset(),
    _S.FAILED: frozenset(),
    _S.CANCELLED: frozenset(),
}


def is_legal(current: JobState, target: JobState) -> bool:
    return target in LEGAL[current]


def check_transition(job_id: str, current: JobState, target: JobState) -> None:
    """Raise `IllegalTransition` unless the state machine allows current -> target."""
    if not is_legal(current, target):
        raise IllegalTransition(job_id, current.value, target.value)


def is_legal_path(states: list[JobState]) -> bool:
    """Whether a history of states (first to last) only ever took legal steps."""
    return all(is_legal(a, b) for a, b in itertools.pairwise(states))
