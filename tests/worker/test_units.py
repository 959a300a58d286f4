"""Small pure pieces of the worker: environment, exits, budgets, options, examples."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from cbas_async.errors import ConfigError, InvalidMessage
from cbas_async.messages import UserData, decode
from cbas_async.settings import Settings
from cbas_async.specfile import load_spec_file
from cbas_async.worker.agent import main_worker, settings_for
from cbas_async.worker.finish import stop_budget_s
from cbas_async.worker.options import WorkerOptions
from cbas_async.worker.runner import (
    describe_exit,
    find_executable,
    job_environment,
    orphan_guard,
    tail_lines,
)
from tests.worker.helpers import EXAMPLES, user_data_for


def test_job_environment_drops_the_workers_secrets() -> None:
    base = {"PATH": "/bin", "HOME": "/h", "AWS_SECRET_ACCESS_KEY": "s", "CBAS_API_TOKEN": "t"}
    env = job_environment(base, {"HOME": "/job"}, {"CBAS_JOB_ID": "j-1"})
    assert env == {"PATH": "/bin", "HOME": "/job", "CBAS_JOB_ID": "j-1"}
    assert "PATH" in job_environment({}, {}, {})


def test_exit_descriptions() -> None:
    assert describe_exit(3) == "exit code 3"
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(-200) == "killed by signal 200"


def test_tail_lines(tmp_path: Path) -> None:
    path = tmp_path / "err"
    path.write_text("".join(f"line {n}\n" for n in range(100)))
    assert tail_lines(path, lines=3) == "line 97\nline 98\nline 99"
    assert len(tail_lines(path, lines=1000, max_bytes=64)) <= 64
    assert tail_lines(tmp_path / "missing") == ""


def test_find_executable(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\n")
    assert find_executable("./run.sh", cwd=tmp_path, path=None) is None  # not executable
    script.chmod(0o755)
    assert find_executable("./run.sh", cwd=tmp_path, path=None) == str(tmp_path / "run.sh")
    assert find_executable("sh", cwd=tmp_path, path="/bin:/usr/bin") is not None
    assert find_executable("sh", cwd=tmp_path, path=str(tmp_path)) is None


def test_orphan_guard_wraps_or_passes_through() -> None:
    argv = orphan_guard(["python3", "x.py"])
    assert argv[-2:] == ["python3", "x.py"]
    assert argv in (
        ["python3", "x.py"],
        ["setpriv", "--pdeathsig", "KILL", "--", "python3", "x.py"],
    )


@pytest.mark.parametrize(
    ("remaining_s", "last_save_s", "budget_s"),
    [(120, 0.5, 119), (120, 10, 100), (10, 20, 5), (1.5, 0, 0.75), (0, 1, 0)],
)
def test_stop_budget_leaves_time_to_upload(
    remaining_s: float, last_save_s: float, budget_s: float
) -> None:
    assert stop_budget_s(remaining_s, last_save_s) == pytest.approx(budget_s)


def test_options_from_the_environment(tmp_path: Path) -> None:
    environ = {
        "CBAS_WORKER_DIR": str(tmp_path),
        "CBAS_WORKER_HTTP_PORT": "8099",
        "CBAS_WORKER_ADVERTISE_HOST": "203.0.113.7",
        "PATH": "/bin",
    }
    options = WorkerOptions.from_env(environ)
    assert (options.base_dir, options.http_port, options.advertise_host) == (
        tmp_path,
        8099,
        "203.0.113.7",
    )
    assert options.job_env == environ
    assert not options.poweroff
    defaults = WorkerOptions.from_env({})
    assert (defaults.base_dir, defaults.http_port, defaults.advertise_host) == (None, 0, None)
    with pytest.raises(ConfigError):
        WorkerOptions.from_env({"CBAS_WORKER_HTTP_PORT": "http"})


def test_user_data_overrides_the_settings() -> None:
    settings = Settings(endpoint_url="http://env", deployment="cbas", region="eu-west-1")
    local = settings_for(settings, user_data_for("j", endpoint_url="http://moto"))
    assert (local.endpoint_url, local.deployment, local.region) == (
        "http://moto",
        "test",
        "us-east-1",
    )
    assert settings_for(settings, user_data_for("j")).endpoint_url == "http://env"


def test_user_data_names_the_home_region_and_bucket_or_means_its_own() -> None:
    fields = json.loads(user_data_for("j", region="eu-west-1", bucket="b-eu").encode())
    del fields["home_region"], fields["home_bucket"]  # as an older master wrote it
    old = decode(UserData, json.dumps(fields))
    assert (old.home_region, old.home_bucket) == ("eu-west-1", "b-eu")
    away = user_data_for("j", region="us-west-2", home_region="us-east-1", home_bucket="b-home")
    assert decode(UserData, away.encode()) == away
    assert (away.region, away.bucket, away.home_bucket) == ("us-west-2", "b", "b-home")
    del fields["region"]
    with pytest.raises(InvalidMessage, match="region: Field required"):
        decode(UserData, json.dumps(fields))


def test_the_workers_tables_are_in_the_home_region() -> None:
    settings = Settings(deployment="cbas", region="eu-west-1")
    at_home = settings_for(settings, user_data_for("j"))
    assert (at_home.region, at_home.regions, at_home.home_region) == ("us-east-1", (), "us-east-1")
    away = settings_for(settings, user_data_for("j", region="us-west-2", home_region="us-east-1"))
    assert (away.region, away.home_region) == ("us-west-2", "us-east-1")
    assert away.all_regions == ("us-east-1", "us-west-2")


def test_main_worker_refuses_bad_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    assert main_worker({"CBAS_NOTICE_POLL_S": "soon"}) == 2
    assert "CBAS_NOTICE_POLL_S" in capsys.readouterr().err


@pytest.mark.parametrize("example", ["primes_app", "hello", "primes_dmtcp"])
def test_example_specs_are_valid(example: str) -> None:
    loaded = load_spec_file(EXAMPLES / example / "spec.json")
    expected = {"primes_app": "app", "hello": "none", "primes_dmtcp": "dmtcp"}[example]
    assert loaded.spec.checkpoint.method == expected
