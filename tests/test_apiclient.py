"""How the API client turns refusals into the CLI's errors (and so its exit codes)."""

from __future__ import annotations

import pytest

from cbas_async.apiclient import _translate
from cbas_async.errors import (
    ApiFailed,
    CloudUnreachable,
    ConfigError,
    InvalidSpec,
    JobNotFound,
    StaleWrite,
)

URL = "http://master:8080"


@pytest.mark.parametrize(
    ("status", "job_id", "is_submit", "expected"),
    [
        (401, None, True, ConfigError),
        (404, "j-1", False, JobNotFound),
        (404, None, False, ApiFailed),  # a 404 that names no job: a wrong URL
        (400, None, True, InvalidSpec),
        (413, None, True, InvalidSpec),
        (400, "j-1", False, ApiFailed),
        (409, "j-1", False, StaleWrite),
        (503, "j-1", False, CloudUnreachable),
        (500, None, False, ApiFailed),
    ],
)
def test_each_refusal_becomes_the_error_of_its_exit_code(
    status: int, job_id: str | None, is_submit: bool, expected: type[Exception]
) -> None:
    error = _translate(URL, status, "nope", [("input", "too large")], job_id, is_submit)
    assert type(error) is expected


def test_a_spec_refusal_keeps_the_fields_and_a_bare_one_the_message() -> None:
    error = _translate(URL, 400, "invalid job spec", [("command", "field required")], None, True)
    assert isinstance(error, InvalidSpec)
    assert error.errors == [("command", "field required")]
    bare = _translate(URL, 415, "send application/json", [], None, True)
    assert isinstance(bare, InvalidSpec)
    assert bare.errors == [("", "send application/json")]


def test_a_401_names_the_variable_and_the_url() -> None:
    error = _translate(URL, 401, "invalid bearer token", [], None, False)
    assert isinstance(error, ConfigError)
    assert error.variable == "CBAS_API_TOKEN"
    assert "token missing or wrong" in str(error)
    assert URL in str(error)
