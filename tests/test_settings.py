"""Settings from the environment: defaults, parsing, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from cbas_async.errors import ConfigError
from cbas_async.settings import Settings


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
