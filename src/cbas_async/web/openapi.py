"""The OpenAPI 3.1 document of `/api/v1`, served at `/api/v1/openapi.json`.

Generated: every schema comes from a pydantic model (`records`, `jobs.JobSpec`,
`web.schemas`) through `models_json_schema`, its `$defs` becoming `components/schemas`.
What is written here is only the table of operations: path, method, the model of the
request and of the response. `tests/web/test_schema.py` runs schemathesis against the live
app, so the document and the handlers cannot drift apart unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from cbas_async.jobs import JobSpec
from cbas_async.records import JobRecord
from cbas_async.web import schemas as s

PREFIX = "/api/v1"
JSON = "application/json"
REF = "#/components/schemas/{model}"
ERRORS = {
    400: "Bad request", 401: "No or wrong bearer token", 404: "No such job or file",
    429: "Too many failed sign-ins from this address; see Retry-After",
    409: "The job changed meanwhile", 413: "Too large", 415: "Wrong content type",
    503: "AWS unreachable; try again",
}  # fmt: skip

_OK = {200: "OK", 201: "Created"}


@dataclass(frozen=True, slots=True)
class Operation:
    """One route: its response model (or a media type for a stream or a file), and the
    models of its parameters and JSON/multipart request body."""

    method: str
    path: str
    summary: str
    response: type[BaseModel] | str
    path_params: type[BaseModel] | None = None
    query_params: type[BaseModel] | None = None
    body: tuple[type[BaseModel], type[BaseModel]] | None = None  # (JSON, multipart)
    status: int = 200


OPERATIONS = (
    Operation("get", "/jobs", "List jobs, newest state change last, page by page",
              s.JobPage, query_params=s.ListQuery),
    Operation("post", "/jobs", "Submit a job (spec, plus input files with multipart)",
              JobRecord, body=(JobSpec, s.SubmitForm), status=201),
    Operation("get", "/jobs/{job_id}", "One job with its history", s.JobDetail, s.JobPath),
    Operation("post", "/jobs/{job_id}/cancel", "Cancel a live job (idempotent)", JobRecord,
              s.JobPath),
    Operation("get", "/jobs/{job_id}/logs", "The last log chunks", s.Logs,
              s.JobPath, s.LogsQuery),
    Operation("get", "/jobs/{job_id}/logs/stream",
              "Live logs as server-sent events (log, state, end)", "text/event-stream", s.JobPath),
    Operation("get", "/jobs/{job_id}/outputs", "The job's output files", s.Outputs, s.JobPath),
    Operation("get", "/jobs/{job_id}/outputs/{name}", "Download one output file",
              "application/octet-stream", s.OutputPath),
    Operation("get", "/spot/prices",
              "Spot price series per zone and type, and the max prices in use", s.Prices,
              query_params=s.PricesQuery),
    Operation("get", "/workers", "Live workers and their last ping (a user token: its own)",
              s.Workers),
    Operation("get", "/me", "Who the bearer token belongs to", s.Me),
)  # fmt: skip


def _models() -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    found: list[tuple[type[BaseModel], JsonSchemaMode]] = [(s.Error, "serialization")]
    for op in OPERATIONS:
        if not isinstance(op.response, str):
            found.append((op.response, "serialization"))
        found += [(m, "validation") for m in (op.path_params, op.query_params) if m]
        found += [(m, "validation") for m in op.body or ()]
    return list(dict.fromkeys(found))


def _parameters(schemas: dict[str, Any], model: type[BaseModel] | None, where: str) -> list[Any]:
    if model is None:
        return []
    properties = schemas[model.__name__]["properties"]
    return [
        {"name": name, "in": where, "required": where == "path", "schema": schema}
        for name, schema in properties.items()
    ]


def _content(ref: dict[str, Any] | str) -> dict[str, Any]:
    return {ref: {}} if isinstance(ref, str) else {JSON: {"schema": ref}}


def _operation(op: Operation, refs: dict[Any, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    response = op.response if isinstance(op.response, str) else refs[(op.response, "serialization")]
    error = refs[(s.Error, "serialization")]
    built: dict[str, Any] = {
        "summary": op.summary,
        "parameters": _parameters(schemas, op.path_params, "path")
        + _parameters(schemas, op.query_params, "query"),
        "responses": {
            str(op.status): {"description": _OK[op.status], "content": _content(response)},
            **{str(c): {"description": t, "content": _content(error)} for c, t in ERRORS.items()},
        },
    }
    if op.body is not None:
        json_model, form_model = op.body
        built["requestBody"] = {
            "required": True,
            "content": {
                JSON: {"schema": refs[(json_model, "validation")]},
                "multipart/form-data": {"schema": refs[(form_model, "validation")]},
            },
        }
    return built


def document() -> dict[str, Any]:
    """The whole document, made from the models."""
    refs, top = models_json_schema(_models(), ref_template=REF)
    schemas = top["$defs"]
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        paths.setdefault(PREFIX + op.path, {})[op.method] = _operation(op, refs, schemas)
    # parameters are described in place, not as components
    params = {m.__name__ for op in OPERATIONS for m in (op.path_params, op.query_params) if m}
    return {
        "openapi": "3.1.0",
        "info": {"title": "cbas-async", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": {name: schema for name, schema in schemas.items() if name not in params},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


DOCUMENT = document()


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(DOCUMENT)


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/openapi.json", openapi_json)
