"""The user commands through the REST API (CBAS_API_URL set): the master's app on 127.0.0.1
port 0 with moto behind it; the CLI runs in-process through `cli.main(argv, environ)`."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from cbas_async import cli, logs
from cbas_async.clock import SystemClock
from cbas_async.commands import cancel
from cbas_async.records import JobCost, JobPlacement, PricedAttempt
from cbas_async.states import JobState
from tests.web.conftest import LIMITS, Api
from tests.web.helpers import advance, move_across_regions, spec

Cbas = Callable[..., Awaitable[tuple[int, str, str]]]
UNKNOWN = "j-20260101T000000-deadbeef"
PLACEMENT = JobPlacement(region="us-east-1", instance_type="t3.micro", checkpoint_interval_s=300.0)


@pytest.fixture
def cbas(
    api: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cbas:
    """Run `cbas ARGS` against the API; (exit code, stdout, stderr)."""
    # structlog stays as the test session set it: main would bind it to capsys' streams
    monkeypatch.setattr(logs, "configure", lambda **_: None)
    base = {"CBAS_HOME": str(tmp_path), "CBAS_API_URL": api.url, "CBAS_API_TOKEN": api.token}

    async def run(*args: str, **env: str) -> tuple[int, str, str]:
        capsys.readouterr()
        # main runs its own event loop, so it cannot share the test's: a thread it is
        code = await asyncio.to_thread(cli.main, list(args), {**base, **env})
        out, err = capsys.readouterr()
        return code, out, err

    return run


def write_spec(folder: Path, **extra: object) -> Path:
    path = folder / "spec.json"
    path.write_text(json.dumps(spec(**extra)))
    return path


async def submitted(cbas: Cbas, folder: Path, **extra: object) -> str:
    code, out, err = await cbas("submit", str(write_spec(folder, **extra)), "--json")
    assert code == 0, err
    return str(json.loads(out)["job_id"])


async def test_submit_uploads_the_spec_and_its_input_files(
    api: Api, cbas: Cbas, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "in.txt").write_bytes(b"payload\n")
    code, out, _ = await cbas("submit", str(write_spec(tmp_path, input_files=["data/in.txt"])))
    job_id = out.strip()
    assert code == 0
    job = await api.store.get(job_id)
    assert job.state is JobState.PENDING
    assert job.spec.input_files == ["data/in.txt"]
    key = api.cloud.sandbox.key(job_id, "input", "data/in.txt")
    assert await api.cloud.sandbox.read(key) == b"payload\n"


async def test_jdl_spec_is_submitted(api: Api, cbas: Cbas, tmp_path: Path) -> None:
    jdl = tmp_path / "hello.jdl"
    jdl.write_text('[ Executable = "/bin/echo"; Arguments = "hi"; ]')
    code, out, _ = await cbas("submit", str(jdl))
    assert code == 0
    job = await api.store.get(out.strip())
    assert job.spec.name == "hello"
    assert job.spec.command[0] == "/bin/echo"


async def test_status_json_and_text_match_the_store(api: Api, cbas: Cbas, tmp_path: Path) -> None:
    job_id = await submitted(cbas, tmp_path)
    await advance(api.store, job_id, JobState.RUNNING, placement=PLACEMENT)
    code, out, _ = await cbas("status", job_id, "--json")
    assert code == 0
    assert json.loads(out) == (await api.store.get(job_id)).to_json()
    code, out, _ = await cbas("status", job_id)
    assert code == 0
    assert f"job        {job_id} (hello)" in out
    assert "state      RUNNING   attempt 1/3" in out
    assert "placement  t3.micro" in out


async def test_status_and_the_job_view_name_each_attempts_region(
    api: Api, cbas: Cbas, tmp_path: Path
) -> None:
    job_id = await submitted(cbas, tmp_path)
    east = JobPlacement(
        region="us-east-1", zone="us-east-1a", instance_type="c5.large", checkpoint_interval_s=60.0
    )
    west = east.model_copy(update={"region": "us-west-2", "zone": "us-west-2b"})
    first = PricedAttempt(
        region="us-east-1",
        zone="us-east-1a",
        instance_type="c5.large",
        start=SystemClock().now(),
        end=SystemClock().now(),
        outcome=JobState.INTERRUPTED,
        duration_s=600.0,
        cost_usd=0.0123,
        ondemand_usd=0.0142,
        work_redone_s=30.0,
    )
    await move_across_regions(api.store, job_id, east, west, JobCost(attempts={1: first}))
    code, out, _ = await cbas("status", job_id, "--json")
    shown = json.loads(out)
    assert (code, shown["placement"]["region"]) == (0, "us-west-2")
    assert shown["cost"]["attempts"]["1"]["region"] == "us-east-1"
    code, out, _ = await cbas("status", job_id)
    assert "placement  c5.large us-west-2 us-west-2b" in out
    assert "attempt 1  c5.large us-east-1 us-east-1a INTERRUPTED  $0.0123" in out
    status, detail = await api.call("GET", f"/api/v1/jobs/{job_id}")
    assert status == 200
    where = [(a["attempt"], a["region"], a["zone"], a["cost_usd"]) for a in detail["attempts"]]
    assert where == [(1, "us-east-1", "us-east-1a", 0.0123), (2, "us-west-2", "us-west-2b", None)]


async def test_list_all_and_by_state(api: Api, cbas: Cbas, tmp_path: Path) -> None:
    first = await submitted(cbas, tmp_path)
    second = await submitted(cbas, tmp_path)
    await advance(api.store, second, JobState.SUCCEEDED)
    code, out, _ = await cbas("list")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == ["JOB", "NAME", "STATE", "ATTEMPT"]
    assert [line.split()[:3] for line in lines[1:]] == [
        [first, "hello", "PENDING"],
        [second, "hello", "SUCCEEDED"],
    ]
    code, out, _ = await cbas("list", "--state", "succeeded", "--json")
    assert code == 0
    assert [j["job_id"] for j in json.loads(out)] == [second]


async def test_cancel_then_wait_fails(api: Api, cbas: Cbas, tmp_path: Path) -> None:
    job_id = await submitted(cbas, tmp_path)
    code, out, _ = await cbas("cancel", job_id)
    assert (code, out.split()) == (0, [job_id, "CANCELLED"])
    assert (await api.store.get(job_id)).state is JobState.CANCELLED
    code, out, _ = await cbas("wait", job_id, "--timeout", "5")
    assert (code, out.split()) == (1, [job_id, "CANCELLED"])


async def test_wait_for_a_finished_job_succeeds(api: Api, cbas: Cbas, tmp_path: Path) -> None:
    job_id = await submitted(cbas, tmp_path)
    await advance(api.store, job_id, JobState.SUCCEEDED)
    code, out, _ = await cbas("wait", job_id)
    assert (code, out.split()) == (0, [job_id, "SUCCEEDED"])


async def test_outputs_are_downloaded(api: Api, cbas: Cbas, tmp_path: Path) -> None:
    job_id = await submitted(cbas, tmp_path)
    await advance(api.store, job_id, JobState.SUCCEEDED)
    made = tmp_path / "made"
    (made / "sub").mkdir(parents=True)
    (made / "sub" / "result.txt").write_bytes(b"42\n")
    await api.cloud.sandbox.upload_outputs(job_id, made, ["sub/result.txt"])
    dest = tmp_path / "out"
    code, out, _ = await cbas("outputs", job_id, "--to", str(dest))
    assert code == 0
    assert out.split() == [str(dest / "sub" / "result.txt")]
    assert (dest / "sub" / "result.txt").read_bytes() == b"42\n"


async def test_logs_every_attempt_in_order_with_and_without_follow(
    api: Api, cbas: Cbas, tmp_path: Path
) -> None:
    job_id = await submitted(cbas, tmp_path)
    sandbox = api.cloud.sandbox
    await sandbox.put_log_chunk(job_id, 1, "stdout", 0, b"one\n")
    await sandbox.put_log_chunk(job_id, 1, "stdout", 1, b"two\n")
    await sandbox.put_log_chunk(job_id, 2, "stderr", 0, b"oops\n")
    await advance(api.store, job_id, JobState.SUCCEEDED)
    expected = "==> attempt 1 stdout <==\none\ntwo\n==> attempt 2 stderr <==\noops\n"
    assert await cbas("logs", job_id) == (0, expected, "")
    # finished: --follow prints the same and returns instead of waiting
    assert await cbas("logs", job_id, "--follow") == (0, expected, "")


async def test_bad_spec_exits_2_naming_the_field_and_stores_nothing(
    api: Api, cbas: Cbas, tmp_path: Path
) -> None:
    code, _, err = await cbas("submit", str(write_spec(tmp_path, resources={"vcpus": 0})))
    assert code == 2
    assert "invalid job spec" in err
    assert "resources.vcpus" in err
    assert await api.store.all_in_states(list(JobState)) == []


async def test_a_refusal_of_the_api_exits_2_naming_the_field(
    api: Api, cbas: Cbas, tmp_path: Path
) -> None:
    (tmp_path / "big.bin").write_bytes(b"x" * (LIMITS.upload_max_bytes + 1))
    code, _, err = await cbas("submit", str(write_spec(tmp_path, input_files=["big.bin"])))
    assert code == 2
    assert "invalid job spec" in err
    assert "input: the input files are too large" in err
    assert await api.store.all_in_states(list(JobState)) == []


@pytest.mark.parametrize("token", ["cbas_000000000000_" + "x" * 43, ""])
async def test_wrong_or_missing_token_exits_2_and_says_so(
    api: Api, cbas: Cbas, tmp_path: Path, token: str
) -> None:
    code, _, err = await cbas("submit", str(write_spec(tmp_path)), CBAS_API_TOKEN=token)
    assert code == 2
    assert "CBAS_API_TOKEN: token missing or wrong" in err
    assert await api.store.all_in_states(list(JobState)) == []


@pytest.mark.parametrize(
    "args",
    [
        ["status", UNKNOWN],
        ["status", "not-an-id"],
        ["cancel", UNKNOWN],
        ["logs", UNKNOWN],
        ["wait", UNKNOWN],
        ["outputs", UNKNOWN, "--to", "out"],
    ],
)
async def test_unknown_id_exits_4(cbas: Cbas, args: list[str]) -> None:
    code, out, err = await cbas(*args)
    assert (code, out) == (4, "")
    assert f"no job with id {args[1]!r}" in err


async def test_cancel_of_a_finished_job_changes_nothing(
    api: Api, cbas: Cbas, tmp_path: Path
) -> None:
    job_id = await submitted(cbas, tmp_path)
    await cancel(api.cloud, job_id, clock=SystemClock())
    before = await api.store.get(job_id)
    code, out, _ = await cbas("cancel", job_id)
    assert (code, out.split()) == (0, [job_id, "CANCELLED"])
    assert (await api.store.get(job_id)).version == before.version


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_unreachable_api_exits_3_naming_the_url(cbas: Cbas) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    code, _, err = await cbas("list", CBAS_API_URL=url)
    assert code == 3
    assert f"cannot reach {url}" in err


async def test_a_url_that_is_not_http_is_a_configuration_error(cbas: Cbas) -> None:
    code, _, err = await cbas("list", CBAS_API_URL="127.0.0.1:8080")
    assert code == 2
    assert "CBAS_API_URL" in err


async def test_the_installed_entry_point_goes_through_the_api(api: Api, tmp_path: Path) -> None:
    """A subprocess with no AWS settings at all: only the API can answer."""
    job_id = (await api.call("POST", "/api/v1/jobs", json=spec()))[1]["job_id"]
    env = {"CBAS_HOME": str(tmp_path), "CBAS_API_URL": api.url, "CBAS_API_TOKEN": api.token}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cbas_async",
        "status",
        job_id,
        "--json",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert json.loads(out)["state"] == "PENDING"
