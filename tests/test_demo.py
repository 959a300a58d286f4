"""The demo's job set: the interrupted job is the primes example slowed down, with its
program beside the copied spec, and the product accepts every spec."""

from __future__ import annotations

import json
from pathlib import Path

from cbas_async import demo
from cbas_async.specfile import load_spec_file


def test_demo_specs_slow_down_only_the_interrupted_job(tmp_path: Path) -> None:
    paths = demo._specs(tmp_path)
    assert set(paths) == set(demo.JOBS)
    slowed = paths[demo.INTERRUPTED_JOB]
    assert slowed.parent == tmp_path / "specs"
    loaded = load_spec_file(slowed)  # its input file was copied beside it
    assert loaded.spec.env["PAUSE_S"] == demo.PRIMES_PAUSE_S
    original = json.loads((demo.EXAMPLES / "primes_app" / "spec.json").read_text())
    assert loaded.spec.command == original["command"]
    for name, path in paths.items():
        if name != demo.INTERRUPTED_JOB:
            assert path.parent.parent == demo.EXAMPLES
            load_spec_file(path)


def test_with_the_traces_every_demo_job_runs_on_their_instance_type(tmp_path: Path) -> None:
    paths = demo._specs(tmp_path, demo.TRACE_TYPE)
    for path in paths.values():
        assert path.parent == tmp_path / "specs"
        assert load_spec_file(path).spec.resources.instance_types == [demo.TRACE_TYPE]
    slowed = load_spec_file(paths[demo.INTERRUPTED_JOB]).spec
    assert slowed.env["PAUSE_S"] == demo.PRIMES_PAUSE_S
