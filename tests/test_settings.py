"""Settings from the environment: defaults, parsing, and errors that name the variable."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from cbas_async.errors import ConfigError
from cbas_async.settings import Settings, unknown_variables, variable


def test_defaults_and_resource_names() -> None:
    settings = Settings.from_env({"CBAS_DEPLOYMENT": "prod", "CBAS_HOME": "/tmp/h"})
    assert settings.region == "us-east-1"
    assert settings.endpoint_url is None
    assert settings.home == Path("/tmp/h")
    assert settings.sns_verify is True
    assert (settings.jobs_table, settings.events_table, settings.misc_table) == (
        "prod-jobs",
        "prod-job-events",
        "prod-misc",
    )
    assert (settings.ping_queue, settings.topic, settings.events_topic) == (
        "prod-ping",
        "prod-commands",
        "prod-spot-events",
    )
    assert settings.events_queue == "prod-master-events"
    assert (settings.http_host, settings.public_url) == ("127.0.0.1", None)  # listens locally
    local = {"CBAS_PUBLIC_URL": "http://127.0.0.1:8080", "CBAS_SNS_VERIFY": "false"}
    assert Settings.from_env(local).public_url == "http://127.0.0.1:8080"  # the local cloud


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "CBAS_ENDPOINT_URL": "http://127.0.0.1:5000",
            "CBAS_HEARTBEAT_INTERVAL_S": "2.5",
            "CBAS_LOST_WORKER_TIMEOUT_S": "20",
            "CBAS_SNS_VERIFY": "false",
            "CBAS_HTTP_PORT": "0",
            "CBAS_SPEED": "8",
        }
    )
    assert settings.endpoint_url == "http://127.0.0.1:5000"
    assert (settings.heartbeat_interval_s, settings.lost_worker_timeout_s) == (2.5, 20.0)
    assert settings.sns_verify is False
    assert settings.http_port == 0
    assert settings.scaled_notice_s == 15.0


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"CBAS_HEARTBEAT_INTERVAL_S": "fast"}, "CBAS_HEARTBEAT_INTERVAL_S"),
        ({"CBAS_HEARTBEAT_INTERVAL_S": "-1"}, "CBAS_HEARTBEAT_INTERVAL_S"),
        ({"CBAS_HTTP_PORT": "70000"}, "CBAS_HTTP_PORT"),
        ({"CBAS_SNS_VERIFY": "maybe"}, "CBAS_SNS_VERIFY"),
        ({"CBAS_DEPLOYMENT": "Bad_Name"}, "CBAS_DEPLOYMENT"),
        ({"CBAS_LOST_WORKER_TIMEOUT_S": "1"}, "CBAS_LOST_WORKER_TIMEOUT_S"),
        ({"AWS_ACCESS_KEY_ID": "only-one"}, "AWS_SECRET_ACCESS_KEY"),
        ({"CBAS_MAX_BODY_BYTES": "0"}, "CBAS_MAX_BODY_BYTES"),
        ({"CBAS_MAX_BODY_BYTES": "lots"}, "CBAS_MAX_BODY_BYTES"),
        ({"CBAS_HTTP_PORT": "http"}, "CBAS_HTTP_PORT"),
        ({"CBAS_HTTP_PORT": ""}, "CBAS_HTTP_PORT"),
        ({"CBAS_SPEED": "0"}, "CBAS_SPEED"),
        ({"CBAS_TRACE_EPOCH": "yesterday"}, "CBAS_TRACE_EPOCH"),
        ({"CBAS_API_URL": "ftp://master"}, "CBAS_API_URL"),
        ({"CBAS_PUBLIC_URL": "http://master.example.com"}, "CBAS_PUBLIC_URL"),  # verified: https
        ({"AWS_SECRET_ACCESS_KEY": "only-one"}, "AWS_SECRET_ACCESS_KEY"),
    ],
)
def test_bad_values_name_the_variable(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(environ)
    assert info.value.variable == variable
    assert variable in str(info.value)


def test_to_env_round_trips() -> None:
    settings = Settings.from_env(
        {"CBAS_DEPLOYMENT": "x", "CBAS_MASTER_ID": "m-1", "CBAS_SPEED": "4"}
    )
    assert Settings.from_env(settings.to_env()) == settings


def test_a_bad_value_is_quoted_in_the_message() -> None:
    with pytest.raises(ConfigError, match=r"CBAS_LEASE_TTL_S: '-3': .*greater than 0"):
        Settings.from_env({"CBAS_LEASE_TTL_S": "-3"})


def test_optional_values_and_times() -> None:
    settings = Settings.from_env(
        {
            "CBAS_PUBLIC_URL": "  ",
            "CBAS_PRICE_TRACE": "/data/prices.csv",
            "CBAS_TRACE_EPOCH": "2026-12-01T12:00:00Z",
            "AWS_ACCESS_KEY_ID": "id",
            "AWS_SECRET_ACCESS_KEY": "secret",
            "CBAS_WORKER_IMAGE_ID": "",
            "CBAS_SUBNET_ID": "subnet-0abc",
        }
    )
    assert settings.public_url is None
    assert (settings.worker_image_id, settings.subnet_id) == (None, "subnet-0abc")
    assert settings.price_trace == Path("/data/prices.csv")
    assert settings.trace_epoch == datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert (settings.aws_access_key_id, settings.aws_secret_access_key) == ("id", "secret")
    assert Settings.from_env(settings.to_env()) == settings


def test_names_are_case_sensitive() -> None:
    assert Settings.from_env({"cbas_region": "eu-west-1"}).region == "us-east-1"


def test_keywords_never_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CBAS_REGION", "eu-west-1")
    assert Settings().region == "us-east-1"
    assert Settings.from_env({}).region == "us-east-1"


def test_settings_are_frozen_and_replace_checks_the_change() -> None:
    settings = Settings.from_env({"CBAS_SPEED": "2"})
    with pytest.raises(ValidationError):
        settings.speed = 4.0  # type: ignore[misc]
    assert settings.replace(speed=4.0).speed == 4.0
    assert settings.speed == 2.0
    with pytest.raises(ConfigError) as info:
        settings.replace(speed=-1.0)
    assert info.value.variable == "CBAS_SPEED"
    with pytest.raises(ConfigError, match="not a setting"):
        settings.replace(colour="red")


def test_unknown_cbas_variables_are_logged_with_a_hint() -> None:
    environ = {
        "CBAS_LOST_WORKER_TIMEOUT": "60",  # missing _S: a typo
        "CBAS_WORKER_DIR": "/var/lib/cbas",  # the worker's own variable
        "HOME": "/root",
    }
    with capture_logs() as logs:
        settings = Settings.from_env(environ)
    assert settings.lost_worker_timeout_s == 30.0
    assert unknown_variables(environ) == ["CBAS_LOST_WORKER_TIMEOUT"]
    assert [(e["event"], e["variable"], e["did_you_mean"]) for e in logs] == [
        ("unknown_setting", "CBAS_LOST_WORKER_TIMEOUT", "CBAS_LOST_WORKER_TIMEOUT_S")
    ]


def test_every_field_has_its_variable() -> None:
    assert variable("lost_worker_timeout_s") == "CBAS_LOST_WORKER_TIMEOUT_S"
    assert variable("aws_access_key_id") == "AWS_ACCESS_KEY_ID"
    assert set(Settings().to_env()) <= {variable(name) for name in Settings.model_fields}


def test_regions_name_the_home_region_first() -> None:
    one = Settings(region="eu-west-1")
    assert one.all_regions == ("eu-west-1",)
    assert one.home_region == "eu-west-1"
    assert "CBAS_REGIONS" not in one.to_env()
    two = Settings.from_env({"CBAS_REGIONS": "us-east-1, us-west-2,", "CBAS_REGION": "us-west-2"})
    assert two.regions == ("us-east-1", "us-west-2")
    assert (two.home_region, two.region) == ("us-east-1", "us-west-2")
    assert Settings.from_env(two.to_env()).regions == two.regions
    assert two.in_region("us-east-1").region == "us-east-1"
    assert two.in_region("us-east-1").regions == two.regions


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        ({"CBAS_REGIONS": "us-east-1,us-east-1"}, "names a region twice"),
        ({"CBAS_REGIONS": "us-east-1,mars"}, "'mars' is not a region name"),
        ({"CBAS_REGIONS": "us-west-2"}, "'us-east-1' is not one of CBAS_REGIONS us-west-2"),
    ],
)
def test_bad_regions_are_refused(environ: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        Settings.from_env(environ)


def test_the_costs_of_a_move_across_regions_are_settings() -> None:
    defaults = Settings()
    assert (defaults.egress_usd_per_gib, defaults.transfer_mib_s, defaults.move_check_s) == (
        0.02,
        100.0,
        300.0,
    )
    read = Settings.from_env(
        {
            "CBAS_EGRESS_USD_PER_GIB": "0",
            "CBAS_TRANSFER_MIB_S": "250",
            "CBAS_MOVE_CHECK_S": "60",
        }
    )
    assert (read.egress_usd_per_gib, read.transfer_mib_s, read.move_check_s) == (0.0, 250.0, 60.0)
    with pytest.raises(ConfigError, match="CBAS_TRANSFER_MIB_S"):
        Settings.from_env({"CBAS_TRANSFER_MIB_S": "0"})
    with pytest.raises(ConfigError, match="CBAS_EGRESS_USD_PER_GIB"):
        Settings.from_env({"CBAS_EGRESS_USD_PER_GIB": "-0.01"})
