"""The OpenAPI document is generated from the models (pure: no app, no cloud)."""

from __future__ import annotations

import json
from typing import Any

from openapi_spec_validator import validate

from cbas_async.jobs import JobSpec
from cbas_async.records import JobRecord
from cbas_async.web.openapi import DOCUMENT, OPERATIONS, PREFIX

SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]
PATHS = {
    "/jobs": {"get", "post"},
    "/jobs/{job_id}": {"get"},
    "/jobs/{job_id}/cancel": {"post"},
    "/jobs/{job_id}/logs": {"get"},
    "/jobs/{job_id}/logs/stream": {"get"},
    "/jobs/{job_id}/outputs": {"get"},
    "/jobs/{job_id}/outputs/{name}": {"get"},
    "/spot/prices": {"get"},
    "/workers": {"get"},
    "/me": {"get"},
}


def _refs(value: Any) -> set[str]:
    if isinstance(value, dict):
        own = {value["$ref"]} if "$ref" in value else set()
        return own.union(*(_refs(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_refs(v) for v in value))
    return set()


def test_the_document_is_valid_openapi_with_every_operation() -> None:
    validate(DOCUMENT)
    assert {p.removeprefix(PREFIX): set(ops) for p, ops in DOCUMENT["paths"].items()} == PATHS
    assert len(OPERATIONS) == sum(len(ops) for ops in PATHS.values())


def test_every_reference_resolves_to_a_component() -> None:
    refs = _refs(DOCUMENT)
    assert refs
    assert {r.removeprefix("#/components/schemas/") for r in refs} <= set(SCHEMAS)
    assert "$defs" not in json.dumps(DOCUMENT)


def test_the_submit_body_is_the_job_spec_with_its_constraints() -> None:
    body = DOCUMENT["paths"][f"{PREFIX}/jobs"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"] == {"$ref": "#/components/schemas/JobSpec"}
    spec = SCHEMAS["JobSpec"]
    assert set(spec["properties"]) == set(JobSpec.model_fields)
    assert spec["required"] == ["name", "command"]
    assert spec["additionalProperties"] is False
    props = spec["properties"]
    assert (props["max_attempts"]["minimum"], props["max_attempts"]["maximum"]) == (1, 100)
    assert props["max_attempts"]["default"] == 3  # the one default, from the model
    assert props["name"]["maxLength"] == 64
    assert props["name"]["pattern"].startswith("^")
    assert props["command"]["minItems"] == 1
    assert props["input_files"]["uniqueItems"] is True
    assert props["env"]["propertyNames"]["not"] == {"pattern": "^CBAS_"}
    resources = SCHEMAS["Resources"]["properties"]
    assert resources["memory_mib"]["minimum"] == 64
    disk = resources["disk_gib"]
    assert (disk["minimum"], disk["maximum"], disk["default"]) == (8, 16384, 30)
    assert resources["instance_types"]["items"]["pattern"]
    hours = props["expected_hours"]["anyOf"][0]
    assert (hours["exclusiveMinimum"], hours["maximum"]) == (0, 24 * 365)
    assert SCHEMAS["Checkpoint"]["properties"]["method"]["enum"] == ["app", "dmtcp", "none"]
    form = body["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert SCHEMAS[form]["properties"]["spec"] == {
        "format": "binary",
        "title": "Spec",
        "type": "string",
    }


def test_a_job_response_is_the_record_with_its_typed_parts() -> None:
    ok = DOCUMENT["paths"][f"{PREFIX}/jobs"]["post"]["responses"]["201"]
    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/JobRecord"}
    job = SCHEMAS["JobRecord"]["properties"]
    assert set(JobRecord.model_fields) | {"name"} == set(job)
    assert job["spec"] == {"$ref": "#/components/schemas/JobSpec"}
    assert job["cost"]["$ref"] == "#/components/schemas/JobCost"
    attempts = SCHEMAS["JobCost"]["properties"]["attempts"]["additionalProperties"]
    assert attempts == {"$ref": "#/components/schemas/PricedAttempt"}
    assert "max_attempts" in SCHEMAS["JobDetail"]["required"]


def test_parameters_carry_their_limits_and_errors_their_schema() -> None:
    listing = DOCUMENT["paths"][f"{PREFIX}/jobs"]["get"]
    params = {p["name"]: p for p in listing["parameters"]}
    assert params["state"]["schema"] == {"$ref": "#/components/schemas/JobState"}
    assert (params["limit"]["schema"]["minimum"], params["limit"]["schema"]["maximum"]) == (1, 200)
    assert not any(p["required"] for p in params.values())
    detail = DOCUMENT["paths"][f"{PREFIX}/jobs/{{job_id}}"]["get"]
    assert detail["parameters"][0]["required"] is True
    error = detail["responses"]["404"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/Error"}
    assert SCHEMAS["Error"]["required"] == ["error", "errors"]


def test_prices_and_attempts_carry_their_region() -> None:
    prices = DOCUMENT["paths"][f"{PREFIX}/spot/prices"]["get"]
    assert {p["name"] for p in prices["parameters"]} == {"instance_type", "hours", "region"}
    assert "region" in SCHEMAS["PriceSeries"]["required"]
    assert "region" in SCHEMAS["MaxPrice"]["required"]
    assert SCHEMAS["Prices"]["properties"]["regions"]["items"] == {"type": "string"}
    assert "region" in SCHEMAS["JobPlacement"]["required"]  # the live attempt's
    for model in ("PricedAttempt", "AttemptSummary"):
        region = SCHEMAS[model]["properties"]["region"]
        assert region["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert set(SCHEMAS["AttemptSummary"]["properties"]) >= {"zone", "instance_type", "cost_usd"}
