"""The JSON job spec: its pydantic models, parsing with per-field errors, and loading from disk.

Every invalid spec raises `InvalidSpec` whose `errors` are (field path, problem) pairs in plain
words, e.g. ("resources.vcpus", "must be at least 1") or ("input_files[2]", "must not contain
'..'"). No pydantic `ValidationError` leaves this module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    Strict,
    ValidationError,
    ValidationInfo,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, ErrorDetails, PydanticCustomError

from cbas_async.errors import InvalidSpec

# anchored, so that the same text serves fullmatch here and a JSON Schema `pattern`
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", re.ASCII)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$", re.ASCII)
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9][a-z0-9-]*$", re.ASCII)
# a runtime estimate past a year is a typo (minutes or seconds given as hours), not a plan
MAX_EXPECTED_HOURS = 24 * 365


def _problem(message: str, **context: Any) -> PydanticCustomError:
    # user data goes in `context`, never in `message`: braces in it would be read as a template
    return PydanticCustomError("spec", message, context or None)


def _job_name(value: str) -> str:
    if not 1 <= len(value) <= 64:
        raise _problem("must be 1 to 64 characters long")
    if not _NAME.fullmatch(value):
        raise _problem(
            "must start with a letter or digit and contain only letters, digits, '.', '_' and '-'"
        )
    return value


def _text(value: str) -> str:
    if "\x00" in value:
        raise _problem("must not contain a NUL character")
    return value


def _word(value: str) -> str:
    if not value:
        raise _problem("must not be empty")
    return _text(value)


def _relative_path(value: str) -> str:
    """Check a sandbox path and return it normalised (`./a//b` becomes `a/b`)."""
    _word(value)
    if "\\" in value:
        raise _problem("must not contain a backslash; use '/'")
    if value.startswith("/"):
        raise _problem("must be a relative path, not absolute")
    if ".." in value.split("/"):
        raise _problem("must not contain '..'")
    clean = PurePosixPath(value)
    if clean == PurePosixPath("."):
        raise _problem("must name a file, not '.'")
    return str(clean)


def _unique_paths(paths: list[str], info: ValidationInfo) -> list[str]:
    first_index: dict[str, int] = {}
    for index, path in enumerate(paths):
        if path in first_index:
            raise _problem(
                "duplicate of {field}[{first}]",
                field=info.field_name,
                first=first_index[path],
                index=index,  # read by _field_path to point at the duplicate itself
            )
        first_index[path] = index
    return paths


def _env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise _problem("variable name must match [A-Za-z_][A-Za-z0-9_]*")
    if value.startswith("CBAS_"):
        raise _problem("variable names starting with CBAS_ are reserved")
    return value


def _instance_type(value: str) -> str:
    if not _INSTANCE_TYPE.fullmatch(value):
        raise _problem("must be an EC2 instance type such as 'c5.large'")
    return value


def _date_time_text(value: object) -> object:
    # pydantic would read a number as a Unix time; a spec must say what it means
    if not isinstance(value, str | datetime):
        raise _problem("must be an ISO 8601 date-time such as 2026-12-01T12:00:00Z")
    return value


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


class _Documented:
    """JSON Schema keywords stating what a validator above checks (no check of its own)."""

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {**handler(schema), **self.keywords}


_PATH_RULE = "a relative path with '/' separators, without '..', '\\' or a NUL"
Word = Annotated[str, Strict(), AfterValidator(_word), _Documented(minLength=1)]
RelativePath = Annotated[
    str, Strict(), AfterValidator(_relative_path), _Documented(minLength=1, description=_PATH_RULE)
]
PathList = Annotated[
    list[RelativePath], AfterValidator(_unique_paths), _Documented(uniqueItems=True)
]
EnvName = Annotated[str, Strict(), AfterValidator(_env_name)]
EnvValue = Annotated[str, Strict(), AfterValidator(_text)]
EnvMap = Annotated[
    dict[EnvName, EnvValue],
    _Documented(propertyNames={"pattern": _ENV_NAME.pattern, "not": {"pattern": "^CBAS_"}}),
]
InstanceType = Annotated[
    str, Strict(), AfterValidator(_instance_type), _Documented(pattern=_INSTANCE_TYPE.pattern)
]
JobName = Annotated[
    str,
    Strict(),
    AfterValidator(_job_name),
    _Documented(minLength=1, maxLength=64, pattern=_NAME.pattern),
]
PositiveNumber = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]
UtcDateTime = Annotated[AwareDatetime, BeforeValidator(_date_time_text), AfterValidator(_to_utc)]


class Checkpoint(BaseModel):
    """How the worker saves the job's progress; `interval_s` None lets the broker choose."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["app", "dmtcp", "none"] = "none"
    interval_s: PositiveNumber | None = None


class Resources(BaseModel):
    """What the job needs from an instance, and which instance types may run it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vcpus: Annotated[int, Strict(), Field(ge=1)] = 1
    memory_mib: Annotated[int, Strict(), Field(ge=64)] = 512
    instance_types: Annotated[list[InstanceType], Field(min_length=1)] = ["c5.large"]
    disk_gib: Annotated[int, Strict(), Field(ge=8, le=16384)] = 30  # gp3 root: checkpoints


class JobSpec(BaseModel):
    """One batch job as submitted: command, sandbox files, environment and limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: JobName
    command: Annotated[list[Word], Field(min_length=1)]
    input_files: PathList = []
    output_files: PathList = []
    env: EnvMap = {}
    stdout: RelativePath | None = None
    stderr: RelativePath | None = None
    checkpoint: Checkpoint = Checkpoint()
    resources: Resources = Resources()
    max_attempts: Annotated[int, Strict(), Field(ge=1, le=100)] = 3
    max_price_usd_per_hour: PositiveNumber | None = None
    deadline: UtcDateTime | None = None
    # the runtime estimate the broker plans with (instance hours of work, restarts excluded)
    expected_hours: Annotated[PositiveNumber, Field(le=MAX_EXPECTED_HOURS)] | None = None


def parse_spec(data: Mapping[str, Any] | str | bytes) -> JobSpec:
    """Validate a spec given as JSON text or as already-decoded JSON data."""
    decoded = _decode_json(data) if isinstance(data, str | bytes) else data
    if not isinstance(decoded, Mapping):
        raise InvalidSpec([("", f"must be a JSON object, not {_json_type(decoded)}")])
    try:
        return JobSpec.model_validate(dict(decoded))
    except ValidationError as exc:
        raise InvalidSpec([_translate(error) for error in exc.errors()]) from None


def spec_to_dict(spec: JobSpec) -> dict[str, Any]:
    """JSON-ready data (every field, the deadline as ISO text) that `spec_from_dict` reads."""
    return spec.model_dump(mode="json")


def spec_from_dict(data: Mapping[str, Any]) -> JobSpec:
    return parse_spec(data)


def _decode_json(data: str | bytes) -> Any:
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text, parse_constant=_no_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        where = f"at line {exc.lineno} column {exc.colno}"
        raise InvalidSpec([("", f"not valid JSON: {exc.msg} {where}")]) from None
    except ValueError as exc:  # bad UTF-8, NaN, duplicate keys, integers too long
        raise InvalidSpec([("", f"not valid JSON: {exc}")]) from None
    except RecursionError:
        raise InvalidSpec([("", "not valid JSON: nested too deeply")]) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {json.dumps(key)}")
        result[key] = value
    return result


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    names = {str: "a string", list: "an array", type(None): "null"}
    return names.get(type(value), type(value).__name__)


_PROBLEMS = {
    "extra_forbidden": "unknown field",
    "missing": "field required",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "too_short": "must not be empty",
    "greater_than": "must be greater than {gt:g}",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le:g}",
    "literal_error": "must be one of {expected}",
    "timezone_aware": "must include a time zone, e.g. 'Z' or '+00:00'",
}


def _translate(error: ErrorDetails) -> tuple[str, str]:
    context = error.get("ctx", {})
    loc = error["loc"] + ((context["index"],) if "index" in context else ())
    kind = error["type"]
    if kind in _PROBLEMS:
        return _field_path(loc), _PROBLEMS[kind].format(**context)
    if kind.startswith(("datetime", "date_")):
        return _field_path(loc), "must be an ISO 8601 date-time such as 2026-12-01T12:00:00Z"
    return _field_path(loc), error["msg"]


def _field_path(loc: tuple[int | str, ...]) -> str:
    """("resources", "vcpus") -> "resources.vcpus"; ("input_files", 2) -> "input_files[2]"."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "[key]":  # pydantic's marker for "the key, not the value"
            continue
        elif _ENV_NAME.fullmatch(part):
            path += f".{part}" if path else part
        else:
            path += f"[{json.dumps(part)}]"
    return path
