"""The invariants checked at the end of a chaos run (pure: data in, verdicts out), and
the table they are printed as."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

from cbas_async.records import JobEvent, JobRecord
from cbas_async.states import JobState, is_legal_path
from chaos.observer import Observations
from chaos.workload import JobPlan


@dataclass(frozen=True)
class Verdict:
    """One invariant: how many things it checked and what broke it."""

    name: str
    checked: int
    violations: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return not self.violations


def terminal_once(jobs: Mapping[str, JobRecord], events: Mapping[str, list[JobEvent]]) -> Verdict:
    """Every job is terminal, and its history reaches a terminal state once, at the end."""
    bad = []
    for job_id, job in jobs.items():
        terminals = [e.to_state for e in events[job_id] if e.to_state.terminal]
        if not job.state.terminal or terminals != [job.state]:
            bad.append(f"{job_id}: state {job.state}, terminal entries {terminals}")
    return Verdict("every job in exactly one terminal state", len(jobs), bad)


def expected_outcomes(jobs: Mapping[str, JobRecord], plans: Mapping[str, JobPlan]) -> Verdict:
    bad = [
        f"{job_id} ({plans[job_id].name}): {job.state}, expected {plans[job_id].expected_state}"
        f" ({job.reason})"
        for job_id, job in jobs.items()
        if job.state is not plans[job_id].expected_state
    ]
    return Verdict("each job ended as its kind must", len(jobs), bad)


def outputs_correct(
    jobs: Mapping[str, JobRecord], plans: Mapping[str, JobPlan], outputs: Mapping[str, str | None]
) -> Verdict:
    """`outputs`: the text of each SUCCEEDED job's checked output file (None: missing)."""
    checked = [j for j, job in jobs.items() if job.state.value == "SUCCEEDED" and plans[j].output]
    bad = []
    for job_id in checked:
        name, want = plans[job_id].output or ("", "")
        got = outputs.get(job_id)
        if got != want:
            bad.append(f"{job_id}: {name} is {got!r}, expected {want!r}")
    return Verdict("outputs of every SUCCEEDED job correct", len(checked), bad)


def single_instance(seen: Observations, allowance_s: float) -> Verdict:
    bad = [
        f"{job_id}: two live instances for {overlap_s:.1f}s (allowed {allowance_s:.1f}s)"
        for job_id, overlap_s in seen.overlap_s.items()
        if overlap_s > allowance_s
    ]
    return Verdict(
        f"no two live instances of a job beyond {allowance_s:.0f}s", seen.instance_samples, bad
    )


def legal_histories(jobs: Mapping[str, JobRecord], events: Mapping[str, list[JobEvent]]) -> Verdict:
    bad = []
    for job_id, job in jobs.items():
        history = events[job_id]
        seqs = [e.seq for e in history]
        if not all(a < b for a, b in itertools.pairwise(seqs)):
            bad.append(f"{job_id}: seq not strictly increasing: {seqs}")
        elif seqs[-1:] != [job.version]:
            bad.append(f"{job_id}: last seq {seqs[-1:]} is not the version {job.version}")
        if not is_legal_path([e.to_state for e in history]):
            bad.append(f"{job_id}: illegal path {[e.to_state.value for e in history]}")
    return Verdict("job-events history a legal path, seq increasing", len(jobs), bad)


def fenced_pointers(jobs: Mapping[str, JobRecord], seen: Observations) -> Verdict:
    """Pointer attempts never went down while watched, and never exceed the job's attempt."""
    bad = list(seen.pointer_violations)
    for job_id, job in jobs.items():
        if job.checkpoint is not None and job.checkpoint.attempt > job.attempt:
            bad.append(f"{job_id}: final pointer attempt {job.checkpoint.attempt} > {job.attempt}")
    return Verdict("no checkpoint pointer moved by a stale attempt", seen.pointer_samples, bad)


def consumed_attempts(history: list[JobEvent]) -> set[int]:
    """The attempts a job used up: each one followed by a newer attempt, and the last one
    when the job FAILED straight after its interruption (attempts exhausted)."""
    seen = {e.attempt for e in history}
    used = {n - 1 for n in seen if n > 1}
    ends = [e.to_state for e in history[-2:]]
    if ends == [JobState.INTERRUPTED, JobState.FAILED]:
        used.add(history[-1].attempt)
    return used


def attempts_launched(
    events: Mapping[str, list[JobEvent]], launched: Mapping[str, set[int]]
) -> Verdict:
    """No attempt consumed by a launch that produced no instance. `launched`: the attempts
    of each job that EC2 has an instance for (by its `cbas:attempt` tag, terminated ones
    included)."""
    bad, checked = [], 0
    for job_id, history in events.items():
        for attempt in sorted(consumed_attempts(history)):
            checked += 1
            if attempt not in launched.get(job_id, set()):
                bad.append(f"{job_id}: attempt {attempt} used up, but EC2 never had its instance")
    return Verdict("no attempt consumed by a launch with no instance", checked, bad)


def table(rows: list[tuple[str, str, str]], header: tuple[str, str, str]) -> str:
    """A Markdown table, readable in a terminal and pasteable into the docs."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]

    def line(row: tuple[str, str, str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def verdict_table(verdicts: list[Verdict]) -> str:
    rows = [
        (v.name, str(v.checked), "holds" if v.holds else f"VIOLATED ({len(v.violations)})")
        for v in verdicts
    ]
    return table(rows, ("invariant", "checked", "result"))
