"""The worker's user data: a cloud-init MIME document with the boot script and the job
descriptor; under EC2's 16 KB with the largest descriptor; no secret in it."""

from __future__ import annotations

import email
import re

import pytest

from cbas_async import __version__
from cbas_async.errors import InvalidMessage, PermanentError
from cbas_async.fleet.userdata import (
    MAX_USER_DATA_BYTES,
    BootTarget,
    descriptor_text,
    document,
    shell_part,
)
from cbas_async.messages import UserData, decode

KEY = f"wheels/{__version__}/{'a' * 64}/cbas_async-{__version__}-py3-none-any.whl"


def _descriptor(**changes: object) -> UserData:
    values: dict[str, object] = {
        "job_id": "j-1",
        "attempt": 1,
        "deployment": "prod",
        "region": "us-east-1",
        "bucket": "prod-bucket",
        "ping_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/prod-ping",
        "topic_arn": "arn:aws:sns:us-east-1:123456789012:prod-commands",
        "jobs_table": "prod-jobs",
        "events_table": "prod-job-events",
        "misc_table": "prod-misc",
        "heartbeat_interval_s": 5.0,
        "notice_poll_s": 5.0,
        "checkpoint_interval_s": 600.0,
        "master_id": "m-0123abcd",
    }
    return UserData.model_validate({**values, **changes})


def _largest() -> UserData:
    """Every field at the longest AWS allows (names 255, URLs and ARNs ~2 KB in all)."""
    return _descriptor(
        job_id="j" * 128,
        attempt=10**9,
        deployment="d" * 20,
        region="ap-southeast-12",
        endpoint_url="https://" + "e" * 240 + ".example.com",
        bucket="b" * 63,
        ping_queue_url="https://sqs.ap-southeast-12.amazonaws.com/123456789012/" + "q" * 80,
        topic_arn="arn:aws-us-gov:sns:ap-southeast-12:123456789012:" + "t" * 256,
        jobs_table="j" * 255,
        events_table="e" * 255,
        misc_table="m" * 255,
        heartbeat_interval_s=1.2345678901234567,
        notice_poll_s=1.2345678901234567,
        checkpoint_interval_s=1.2345678901234567e300,
        checkpoint_every_hours=168,
        billing_hour_s=1.2345678901234567,
        master_id="m-" + "x" * 128,
        credentials_table="c" * 255,
        home_region="ap-southeast-11",
        home_bucket="h" * 63,
    )


def test_two_parts_a_boot_script_and_the_descriptor() -> None:
    text = document(_descriptor(), BootTarget(wheel_key=KEY))
    message = email.message_from_string(text)
    assert message.get_content_type() == "multipart/mixed"
    parts = [p.get_content_type() for p in message.walk() if not p.is_multipart()]
    assert parts == ["text/x-shellscript", "application/json"]
    script = shell_part(text)
    assert script is not None
    assert script.startswith("#!/bin/sh\n")
    assert f"CBAS_VERSION={__version__}\n" in script
    assert f"CBAS_WHEEL_KEY={KEY}\n" in script
    assert "CBAS_BUCKET=prod-bucket\n" in script
    assert "systemctl enable --now cbas-worker.service" in script


def test_the_descriptor_round_trips() -> None:
    descriptor = _largest()
    text = document(descriptor, BootTarget(wheel_key=KEY))
    assert decode(UserData, descriptor_text(text)) == descriptor


def test_non_ascii_survives_as_escapes() -> None:
    descriptor = _descriptor(job_id="j-ü-東京")
    text = document(descriptor, BootTarget())
    assert text.isascii()
    assert decode(UserData, descriptor_text(text)) == descriptor


def test_the_largest_descriptor_stays_under_ec2s_limit() -> None:
    size = len(document(_largest(), BootTarget(wheel_key=KEY)).encode())
    assert size < MAX_USER_DATA_BYTES
    assert size < 12 * 1024  # room to grow


def test_over_the_limit_is_refused_not_sent() -> None:
    with pytest.raises(PermanentError, match="over EC2's 16384"):
        document(_descriptor(), BootTarget(wheel_key="k" * MAX_USER_DATA_BYTES))


def test_no_secret_in_the_user_data() -> None:
    text = document(_largest(), BootTarget(wheel_key=KEY))
    assert not re.search(r"(AKIA|ASIA)[A-Z0-9]{16}", text)
    for word in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "TOKEN="):
        assert word not in text
    assert "CBAS_API_TOKEN" not in text


def test_values_are_quoted_for_the_shell() -> None:
    script = shell_part(document(_descriptor(region="us-east-1; rm -rf /"), BootTarget()))
    assert script is not None
    assert "CBAS_REGION='us-east-1; rm -rf /'\n" in script
    assert "CBAS_WHEEL_KEY=''\n" in script  # no wheel uploaded: only a baked image boots


def test_bare_json_user_data_is_still_read() -> None:
    bare = _descriptor().encode()
    assert descriptor_text(bare) == bare


def test_a_document_without_a_descriptor_is_invalid() -> None:
    text = (
        'Content-Type: multipart/mixed; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nhi\n--b--\n"
    )
    with pytest.raises(InvalidMessage, match="no job descriptor"):
        descriptor_text(text)
    assert shell_part(text) is None
