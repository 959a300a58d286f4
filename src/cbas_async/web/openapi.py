"""The OpenAPI 3.0 document of `/api/v1`, served at `/api/v1/openapi.json`.

Written by hand next to the handlers; `tests/web/test_schema.py` runs schemathesis against
the live app so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cbas_async.states import JobState

PREFIX = "/api/v1"
JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


_ERRORS = {str(code): _json(_ref("Error"), text) for code, text in [
    (400, "Bad request"), (401, "No or wrong bearer token"), (404, "No such job or file"),
    (409, "The job changed meanwhile"), (413, "Too large"), (415, "Wrong content type"),
    (503, "AWS unreachable; try again"),
]}  # fmt: skip

_NUM_OR_NULL = {"type": "number", "nullable": True}
_STR_OR_NULL = {"type": "string", "nullable": True}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "errors"],
        "properties": {
            "error": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "problem"],
                    "properties": {"field": {"type": "string"}, "problem": {"type": "string"}},
                },
            },
        },
    },
    "State": {"type": "string", "enum": [s.value for s in JobState]},
    "Cost": {
        "type": "object",
        "required": ["spot_usd", "ondemand_usd", "work_redone_s"],
        "properties": {
            k: {"type": "number"} for k in ("spot_usd", "ondemand_usd", "work_redone_s")
        },
    },
    "Job": {
        "type": "object",
        "required": ["job_id", "state", "version", "attempt", "cost", "spec", "created_at"],
        "properties": {
            "job_id": {"type": "string"},
            "name": _STR_OR_NULL,
            "state": _ref("State"),
            "version": {"type": "integer"},
            "attempt": {"type": "integer"},
            "owner": _STR_OR_NULL,
            "placement": {"type": "object", "nullable": True},
            "checkpoint": {"type": "object", "nullable": True},
            "cost": _ref("Cost"),
            "exit_code": {"type": "integer", "nullable": True},
            "reason": _STR_OR_NULL,
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "spec": {"type": "object"},
        },
    },
    "JobDetail": {
        "allOf": [
            _ref("Job"),
            {
                "type": "object",
                "required": ["events", "attempts", "checkpoints", "max_attempts"],
                "properties": {
                    "max_attempts": {"type": "integer"},
                    "events": {"type": "array", "items": _ref("Event")},
                    "attempts": {"type": "array", "items": {"type": "object"}},
                    "checkpoints": {"type": "array", "items": {"type": "object"}},
                },
            },
        ]
    },
    "Event": {
        "type": "object",
        "required": ["seq", "to_state", "at", "attempt", "actor"],
        "properties": {
            "seq": {"type": "integer"},
            "from_state": {**_ref("State"), "nullable": True},
            "to_state": _ref("State"),
            "at": {"type": "string", "format": "date-time"},
            "attempt": {"type": "integer"},
            "actor": {"type": "string"},
            "detail": _STR_OR_NULL,
        },
    },
    "JobPage": {
        "type": "object",
        "required": ["jobs", "next_page_token"],
        "properties": {
            "jobs": {"type": "array", "items": _ref("Job")},
            "next_page_token": _STR_OR_NULL,
        },
    },
    "Logs": {
        "type": "object",
        "required": ["job_id", "state", "chunks"],
        "properties": {
            "job_id": {"type": "string"},
            "state": _ref("State"),
            "chunks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["attempt", "stream", "seq", "text"],
                    "properties": {
                        "attempt": {"type": "integer"},
                        "stream": {"type": "string"},
                        "seq": {"type": "integer"},
                        "text": {"type": "string"},
                    },
                },
            },
        },
    },
    "Outputs": {
        "type": "object",
        "required": ["job_id", "state", "outputs"],
        "properties": {
            "job_id": {"type": "string"},
            "state": _ref("State"),
            "outputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "size_bytes", "url"],
                    "properties": {
                        "name": {"type": "string"},
                        "size_bytes": {"type": "integer"},
                        "url": {"type": "string"},
                    },
                },
            },
        },
    },
    "Prices": {
        "type": "object",
        "required": ["instance_types", "series", "max_prices"],
        "properties": {
            "instance_types": {"type": "array", "items": {"type": "string"}},
            "series": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["zone", "instance_type", "points"],
                    "properties": {
                        "zone": {"type": "string"},
                        "instance_type": {"type": "string"},
                        "points": {"type": "array", "items": {"type": "array"}},
                    },
                },
            },
            "max_prices": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Workers": {
        "type": "object",
        "required": ["workers"],
        "properties": {
            "workers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["job_id", "state", "attempt"],
                    "properties": {
                        "job_id": {"type": "string"},
                        "state": _ref("State"),
                        "attempt": {"type": "integer"},
                        "instance_id": _STR_OR_NULL,
                        "last_ping_s_ago": _NUM_OR_NULL,
                    },
                },
            }
        },
    },
}

_JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _op(summary: str, ok: dict[str, Any], *params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    codes = ("400", "401", "404", "409", "413", "415", "503")
    return {
        "summary": summary,
        "parameters": list(params),
        "responses": {"200": ok, **{c: _ERRORS[c] for c in codes}},
        **extra,
    }


_SUBMIT_BODY = {
    "required": True,
    "content": {
        JSON: {"schema": {"type": "object", "description": "a job spec (see DESIGN.md)"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["spec"],
                "properties": {
                    "spec": {"type": "string", "format": "binary"},
                    "input": {"type": "array", "items": {"type": "string", "format": "binary"}},
                },
            }
        },
    },
}


def _submit() -> dict[str, Any]:
    op = _op("Submit a job (spec, plus input files with multipart)", _json(_ref("Job")))
    op["requestBody"] = _SUBMIT_BODY
    op["responses"]["201"] = _json(_ref("Job"), "Created")
    del op["responses"]["200"]
    return op


PATHS: dict[str, Any] = {
    f"{PREFIX}/jobs": {
        "get": _op(
            "List jobs, newest state change last, page by page",
            _json(_ref("JobPage")),
            _query("state", _ref("State")),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 200}),
            _query("page_token", {"type": "string"}),
        ),
        "post": _submit(),
    },
    f"{PREFIX}/jobs/{{job_id}}": {
        "get": _op("One job with its history", _json(_ref("JobDetail")), _JOB_ID)
    },
    f"{PREFIX}/jobs/{{job_id}}/cancel": {
        "post": _op("Cancel a live job (idempotent)", _json(_ref("Job")), _JOB_ID)
    },
    f"{PREFIX}/jobs/{{job_id}}/logs": {
        "get": _op(
            "The last log chunks",
            _json(_ref("Logs")),
            _JOB_ID,
            _query("tail", {"type": "integer", "minimum": 1, "maximum": 1000}),
        )
    },
    f"{PREFIX}/jobs/{{job_id}}/logs/stream": {
        "get": _op(
            "Live logs as server-sent events (log, state, end)",
            {"description": "An event stream", "content": {"text/event-stream": {}}},
            _JOB_ID,
        )
    },
    f"{PREFIX}/jobs/{{job_id}}/outputs": {
        "get": _op("The job's output files", _json(_ref("Outputs")), _JOB_ID)
    },
    f"{PREFIX}/jobs/{{job_id}}/outputs/{{name}}": {
        "get": _op(
            "Download one output file",
            {"description": "The file", "content": {"application/octet-stream": {}}},
            _JOB_ID,
            {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
        )
    },
    f"{PREFIX}/spot/prices": {
        "get": _op(
            "Spot price series per zone and type, and the max prices in use",
            _json(_ref("Prices")),
            _query("instance_type", {"type": "string"}),
            _query("hours", {"type": "integer", "minimum": 1, "maximum": 720}),
        )
    },
    f"{PREFIX}/workers": {"get": _op("Live workers and their last ping", _json(_ref("Workers")))},
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "cbas-async", "version": "1"},
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
    "security": [{"bearer": []}],
}


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(DOCUMENT)


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/openapi.json", openapi_json)
