"""The chaos harness's invariant checks catch what they claim to (pure, no cloud)."""

from __future__ import annotations

from datetime import UTC, datetime

from chaos import invariants
from chaos.observer import Observations
from chaos.workload import JobPlan, count_primes_below

from cbas_async.jobs import JobSpec
from cbas_async.records import CheckpointPointer, JobEvent, JobRecord
from cbas_async.states import JobState

NOW = datetime(2026, 11, 27, tzinfo=UTC)
S = JobState


def _job(state: JobState, version: int, attempt: int = 1, pointer: int | None = None) -> JobRecord:
    checkpoint = None
    if pointer is not None:
        checkpoint = CheckpointPointer(
            attempt=pointer, seq=1, key="k", sha256="x", size_bytes=1, method="app", taken_at="t"
        )
    return JobRecord(
        job_id="j",
        state=state,
        version=version,
        attempt=attempt,
        spec=JobSpec(name="j", command=["true"]),
        created_at=NOW,
        updated_at=NOW,
        checkpoint=checkpoint,
    )


def _history(*states: JobState, seqs: list[int] | None = None) -> list[JobEvent]:
    numbers = seqs or list(range(len(states)))
    return [
        JobEvent(job_id="j", seq=n, from_state=None, to_state=s, at=NOW, attempt=1, actor="t")
        for n, s in zip(numbers, states, strict=True)
    ]


GOOD = _history(S.SUBMITTED, S.PENDING, S.LAUNCHING, S.RUNNING, S.SUCCEEDED)


def test_a_clean_job_passes_every_check() -> None:
    jobs = {"j": _job(S.SUCCEEDED, 4, pointer=1)}
    plan = JobPlan(name="n", kind="hello", spec={}, expected_state=S.SUCCEEDED, output=("o", "x\n"))
    seen = Observations(overlap_s={"j": 1.0})
    verdicts = [
        invariants.terminal_once(jobs, {"j": GOOD}),
        invariants.expected_outcomes(jobs, {"j": plan}),
        invariants.outputs_correct(jobs, {"j": plan}, {"j": "x\n"}),
        invariants.single_instance(seen, 9.0),
        invariants.legal_histories(jobs, {"j": GOOD}),
        invariants.fenced_pointers(jobs, seen),
    ]
    assert all(v.holds for v in verdicts), verdicts


def test_each_check_catches_its_violation() -> None:
    plan = JobPlan(name="n", kind="hello", spec={}, expected_state=S.SUCCEEDED, output=("o", "x"))
    live = {"j": _job(S.RUNNING, 3)}
    assert not invariants.terminal_once(live, {"j": GOOD[:4]}).holds
    assert not invariants.expected_outcomes({"j": _job(S.FAILED, 4)}, {"j": plan}).holds
    done = {"j": _job(S.SUCCEEDED, 4)}
    assert not invariants.outputs_correct(done, {"j": plan}, {"j": "y"}).holds
    assert not invariants.single_instance(Observations(overlap_s={"j": 10.0}), 9.0).holds
    skipping = _history(S.SUBMITTED, S.RUNNING, S.SUCCEEDED, seqs=[0, 1, 4])
    assert not invariants.legal_histories(done, {"j": skipping}).holds
    repeated = _history(*[e.to_state for e in GOOD], seqs=[0, 1, 2, 2, 4])
    assert not invariants.legal_histories(done, {"j": repeated}).holds
    ahead = {"j": _job(S.SUCCEEDED, 4, attempt=1, pointer=2)}
    assert not invariants.fenced_pointers(ahead, Observations()).holds


def test_the_expected_prime_counts() -> None:
    assert [count_primes_below(n) for n in (2, 3, 10, 100, 3_000_000)] == [0, 1, 4, 25, 216816]


def _attempts(*steps: tuple[JobState, int]) -> list[JobEvent]:
    return [
        JobEvent(job_id="j", seq=n, to_state=state, at=NOW, attempt=attempt, actor="t")
        for n, (state, attempt) in enumerate(steps)
    ]


# launched, interrupted, re-queued as attempt 2, which succeeds
RETRIED = _attempts(
    (S.SUBMITTED, 1),
    (S.PENDING, 1),
    (S.LAUNCHING, 1),
    (S.RUNNING, 1),
    (S.INTERRUPTED, 1),
    (S.PENDING, 2),
    (S.LAUNCHING, 2),
    (S.RUNNING, 2),
    (S.SUCCEEDED, 2),
)
# the launch of attempt 1 failed (no instance), the launch timeout used the attempt up; then
# attempt 2's launch failed too and the job ran out of attempts
EXHAUSTED = _attempts(
    (S.SUBMITTED, 1),
    (S.PENDING, 1),
    (S.LAUNCHING, 1),
    (S.INTERRUPTED, 1),
    (S.PENDING, 2),
    (S.LAUNCHING, 2),
    (S.INTERRUPTED, 2),
    (S.FAILED, 2),
)


def test_attempts_used_up_by_launched_instances_pass() -> None:
    verdict = invariants.attempts_launched({"j": RETRIED, "k": GOOD}, {"j": {1, 2}, "k": {1}})
    assert verdict.holds, verdict
    assert verdict.checked == 1  # attempt 1 of j; k used none up
    # a job whose only attempt never launched (cancelled meanwhile) used no attempt up
    cancelled = _history(S.SUBMITTED, S.PENDING, S.LAUNCHING, S.CANCELLED)
    assert invariants.attempts_launched({"c": cancelled}, {}).holds


def test_an_attempt_used_up_without_an_instance_is_caught() -> None:
    verdict = invariants.attempts_launched({"j": RETRIED}, {"j": {2}})
    assert verdict.violations == ["j: attempt 1 used up, but EC2 never had its instance"]
    exhausted = invariants.attempts_launched({"j": EXHAUSTED}, {})
    assert [v.split(",")[0] for v in exhausted.violations] == [
        "j: attempt 1 used up",
        "j: attempt 2 used up",
    ]
    assert invariants.consumed_attempts(EXHAUSTED) == {1, 2}
