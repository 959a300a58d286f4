"""A worker runs its job to the end: SUCCEEDED with outputs, or FAILED saying why."""

from __future__ import annotations

import json

from cbas_async.states import JobState
from tests.worker.helpers import EXAMPLES, LocalCloud


def _hello() -> dict[str, object]:
    spec: dict[str, object] = json.loads((EXAMPLES / "hello" / "spec.json").read_text())
    return spec


async def test_exit_zero_succeeds_with_outputs_and_logs(cloud: LocalCloud) -> None:
    job_id = await cloud.submit(_hello())
    assert await cloud.run_worker(cloud.boot(job_id, 1)) == 0
    record = await cloud.store.get(job_id)
    assert (record.state, record.exit_code) == (JobState.SUCCEEDED, 0)
    assert await cloud.output(job_id, "hello.txt") == b"hello, world\n"
    assert await cloud.output(job_id, "stdout.txt") == b"said hello to world\n"
    assert await cloud.log_text(job_id, "stdout", attempt=1) == "said hello to world\n"
    events = await cloud.store.events(job_id)
    assert [e.to_state for e in events][-2:] == [JobState.RUNNING, JobState.SUCCEEDED]
    assert events[-1].actor.startswith("worker:i-")


async def test_non_zero_exit_fails_with_the_stderr_tail(cloud: LocalCloud) -> None:
    script = "for i in $(seq 1 30); do echo line $i >&2; done; exit 3"
    job_id = await cloud.submit({"name": "bad", "command": ["sh", "-c", script]})
    assert await cloud.run_worker(cloud.boot(job_id, 1)) == 0
    record = await cloud.store.get(job_id)
    assert (record.state, record.exit_code) == (JobState.FAILED, 3)
    assert record.reason is not None
    assert record.reason.startswith("exit code 3; stderr tail:\nline 11\n")
    assert record.reason.endswith("line 30")
    assert "line 30" in await cloud.log_text(job_id, "stderr")


async def test_missing_output_fails_naming_it(cloud: LocalCloud) -> None:
    spec = {"name": "lazy", "command": ["true"], "output_files": ["there.txt", "not-there.txt"]}
    spec["command"] = ["sh", "-c", "echo x > there.txt"]
    job_id = await cloud.submit(spec)
    assert await cloud.run_worker(cloud.boot(job_id, 1)) == 0
    record = await cloud.store.get(job_id)
    assert (record.state, record.exit_code) == (JobState.FAILED, 0)
    assert record.reason == "missing output file(s): not-there.txt"


async def test_inputs_and_environment_reach_the_job(cloud: LocalCloud) -> None:
    script = (
        'cat data/in.txt > out.txt; echo "$GREETING $CBAS_JOB_ID $CBAS_ATTEMPT" >> out.txt;'
        ' test -d "$CBAS_CHECKPOINT_DIR" && echo ckpt-dir >> out.txt;'
        ' env | grep -c "^AWS_\\|^CBAS_ENDPOINT" >> out.txt || true'
    )
    spec = {
        "name": "env",
        "command": ["sh", "-c", script],
        "input_files": ["data/in.txt"],
        "output_files": ["out.txt"],
        "env": {"GREETING": "hi"},
    }
    job_id = await cloud.submit(spec, {"data/in.txt": b"input\n"})
    env = {"PATH": "/usr/bin:/bin", "AWS_SECRET_ACCESS_KEY": "leak", "CBAS_ENDPOINT_URL": "x"}
    assert await cloud.run_worker(cloud.boot(job_id, 1), env=env) == 0
    lines = (await cloud.output(job_id, "out.txt")).decode().splitlines()
    assert lines == ["input", f"hi {job_id} 1", "ckpt-dir", "0"]


async def test_a_command_that_cannot_start_fails(cloud: LocalCloud) -> None:
    job_id = await cloud.submit({"name": "nope", "command": ["/no/such/program"]})
    assert await cloud.run_worker(cloud.boot(job_id, 1)) == 0
    record = await cloud.store.get(job_id)
    assert record.state is JobState.FAILED
    assert record.reason is not None
    assert record.reason.startswith("cannot start '/no/such/program'")
