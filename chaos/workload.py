"""The chaos workload: a seeded mix of job specs and what each must end as."""

from __future__ import annotations

import json
import math
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cbas_async.hostpath import installed_bin
from cbas_async.states import JobState

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
RETRIES = 10  # chaos may hit one job several times; it must still get through


def kinds_and_weights(*, dmtcp: bool) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The workload's job kinds; DMTCP-checkpointed primes only where DMTCP is installed."""
    kinds, weights = ("primes", "hello", "sleeper", "fails", "cancel"), (35, 20, 20, 10, 15)
    if dmtcp:
        return (*kinds, "dmtcp"), (*weights, 10)
    return kinds, weights


# installed, or unpacked by `make dmtcp` into the venv; the local cloud hands workers the same
KINDS, WEIGHTS = kinds_and_weights(dmtcp=installed_bin(os.environ.get("PATH")) is not None)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobPlan:
    """One job of the workload: its spec and the outcome it must reach."""

    name: str
    kind: str
    spec: dict[str, Any]
    expected_state: JobState
    output: tuple[str, str] | None = None  # (file name, exact contents)
    cancel_after_s: float | None = None


def plan_workload(rng: random.Random, jobs: int) -> list[JobPlan]:
    """Every kind at least once (when there are enough jobs), the rest drawn by weight."""
    kinds = [*KINDS[:jobs], *rng.choices(KINDS, weights=WEIGHTS, k=max(0, jobs - len(KINDS)))]
    rng.shuffle(kinds)
    return [_plan(kind, n, rng) for n, kind in enumerate(kinds)]


def write_specs(plans: list[JobPlan], folder: Path) -> dict[str, Path]:
    """Write each spec (and the primes program) into `folder`; paths by job name."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLES / "primes_app" / "primes.py", folder / "primes.py")
    shutil.copy(EXAMPLES / "primes_dmtcp" / "count.py", folder / "count.py")
    paths = {}
    for plan in plans:
        path = folder / f"{plan.name}.json"
        path.write_text(json.dumps(plan.spec))
        paths[plan.name] = path
    return paths


def _plan(kind: str, n: int, rng: random.Random) -> JobPlan:
    name = f"{kind}-{n:04d}"
    match kind:
        case "primes":
            return _primes(name, rng.choice((200_000, 300_000, 400_000)))
        case "dmtcp":
            return _dmtcp(name, rng.choice((300_000, 600_000)))
        case "hello":
            spec = _spec(name, ["sh", "-c", f'echo "hello, {name}" > hello.txt'], ["hello.txt"])
            return JobPlan(
                name=name,
                kind=kind,
                spec=spec,
                expected_state=JobState.SUCCEEDED,
                output=("hello.txt", f"hello, {name}\n"),
            )
        case "sleeper":
            command = ["sh", "-c", f"sleep {rng.uniform(1, 3):.1f}; echo {n * n} > out.txt"]
            return JobPlan(
                name=name,
                kind=kind,
                spec=_spec(name, command, ["out.txt"]),
                expected_state=JobState.SUCCEEDED,
                output=("out.txt", f"{n * n}\n"),
            )
        case "fails":
            spec = {**_spec(name, ["sh", "-c", "echo failing >&2; exit 3"], []), "max_attempts": 1}
            return JobPlan(name=name, kind=kind, spec=spec, expected_state=JobState.FAILED)
        case _:
            return JobPlan(
                name=name,
                kind=kind,
                spec=_spec(name, ["sleep", "120"], []),
                expected_state=JobState.CANCELLED,
                cancel_after_s=round(rng.uniform(0.5, 6.0), 1),
            )


def _spec(name: str, command: list[str], outputs: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "command": command,
        "output_files": outputs,
        "checkpoint": {"method": "none"},
        "max_attempts": RETRIES,
    }


def _primes(name: str, limit: int) -> JobPlan:
    """The primes example, which saves its own state when asked."""
    return _counting(name, "primes", "primes.py", limit, pause_s="0.15", method="app", every_s=1)


def _dmtcp(name: str, limit: int) -> JobPlan:
    """A program that knows nothing of checkpoints, checkpointed by DMTCP."""
    return _counting(name, "dmtcp", "count.py", limit, pause_s="0.1", method="dmtcp", every_s=2)


def _counting(
    name: str, kind: str, program: str, limit: int, *, pause_s: str, method: str, every_s: int
) -> JobPlan:
    """A job counting the primes below `limit` with `program`, checkpointed by `method`."""
    spec = {
        **_spec(name, ["python3", program, str(limit)], ["result.txt"]),
        "input_files": [program],
        "env": {"CHUNK": "20000", "PAUSE_S": pause_s},
        "checkpoint": {"method": method, "interval_s": every_s},
    }
    text = f"primes below {limit}: {count_primes_below(limit)}\n"
    return JobPlan(
        name=name,
        kind=kind,
        spec=spec,
        expected_state=JobState.SUCCEEDED,
        output=("result.txt", text),
    )


def count_primes_below(limit: int) -> int:
    """The uninterrupted answer, by a plain sieve."""
    sieve = bytearray([1]) * limit
    sieve[:2] = bytes(min(2, limit))
    for p in range(2, math.isqrt(limit - 1) + 1):
        if sieve[p]:
            sieve[p * p :: p] = bytes(len(range(p * p, limit, p)))
    return sum(sieve)
