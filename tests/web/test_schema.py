"""schemathesis against the live app: no 500s, and every response matches the OpenAPI document.

`positive_data_acceptance` is off: a schema cannot say which strings are page tokens or
job ids this deployment issued, so a schema-valid request may rightly get a 400 or 404.
"""

from __future__ import annotations

import asyncio
from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import positive_data_acceptance

from cbas_async.web.openapi import DOCUMENT
from tests.web.conftest import Api
from tests.web.helpers import spec

MAX_EXAMPLES = 8


def fuzz(url: str, token: str) -> int:
    """Run every operation's generated cases (blocking); returns how many were sent."""
    schema = schemathesis.openapi.from_dict(DOCUMENT)
    sent = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            nonlocal sent
            case.call_and_validate(
                base_url=url,
                headers={"Authorization": f"Bearer {token}"},
                excluded_checks=[positive_data_acceptance],
            )
            sent += 1

        check()
    return sent


async def test_the_app_matches_its_openapi_document(api: Api) -> None:
    status, _ = await api.call("POST", "/api/v1/jobs", json=spec())
    assert status == 201
    status, served = await api.call("GET", "/api/v1/openapi.json")
    assert (status, served) == (200, DOCUMENT)
    sent = await asyncio.to_thread(fuzz, api.url, api.token)
    assert sent >= MAX_EXAMPLES
