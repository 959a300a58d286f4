"""The chaos workload: every planned spec is one the product accepts, with its inputs, and
DMTCP jobs join the mix only where DMTCP is installed."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from chaos import workload

from cbas_async.specfile import load_spec_file
from cbas_async.states import JobState


def test_dmtcp_kind_only_where_dmtcp_is_installed() -> None:
    without, _ = workload.kinds_and_weights(dmtcp=False)
    with_dmtcp, weights = workload.kinds_and_weights(dmtcp=True)
    assert "dmtcp" not in without
    assert with_dmtcp[-1] == "dmtcp"
    assert len(weights) == len(with_dmtcp)


@pytest.mark.parametrize("kind", ["primes", "hello", "sleeper", "fails", "cancel", "dmtcp"])
def test_every_kind_is_a_valid_spec_with_its_inputs(kind: str, tmp_path: Path) -> None:
    plan = workload._plan(kind, 3, random.Random(5))
    paths = workload.write_specs([plan], tmp_path)
    loaded = load_spec_file(paths[plan.name])  # also checks the input files exist
    assert loaded.spec.name == plan.name
    if kind in {"primes", "dmtcp"}:
        assert plan.expected_state is JobState.SUCCEEDED
        assert plan.output is not None
        limit = int(plan.spec["command"][-1])
        assert plan.output[1] == f"primes below {limit}: {workload.count_primes_below(limit)}\n"
    if kind == "dmtcp":
        assert loaded.spec.checkpoint.method == "dmtcp"


def test_count_primes_below_small_limits() -> None:
    assert [workload.count_primes_below(n) for n in (2, 3, 10, 100)] == [0, 1, 4, 25]
