"""JDL attributes to a `JobSpec`: which gLite attributes are used or ignored, their types,
and spec errors named by the JDL attribute they came from."""

from __future__ import annotations

import shlex
from typing import Any

from cbas_async.errors import InvalidSpec
from cbas_async.jdl.parser import Attribute, Expression, Value, parse_jdl
from cbas_async.jobs import JobSpec, parse_spec


def jdl_to_spec(text: str, *, name: str = "jdl-job") -> JobSpec:
    """Convert a JDL job to a spec; `name` is used when the JDL has no JobName."""
    reader = _Reader(parse_jdl(text))
    data = reader.spec_data(name)
    if reader.errors:
        raise InvalidSpec(reader.errors)
    try:
        return parse_spec(data)
    except InvalidSpec as exc:
        named = reader.name_attribute is not None
        raise InvalidSpec([(_jdl_field(f, named), p) for f, p in exc.errors]) from None


# gLite attributes that mean nothing here: the broker, not the JDL, picks where a job runs
_IGNORED = {"type", "jobtype", "virtualorganisation", "requirements", "rank", "myproxyserver"}
_IGNORED |= {"shallowretrycount", "perusalfileenable", "outputsandboxbasedesturi"}
_IGNORED |= {"datarequirements", "dataaccessprotocol"}
_USED = {"executable", "arguments", "stdoutput", "stderror", "inputsandbox", "outputsandbox"}
_USED |= {"environment", "retrycount", "jobname", "name", "expectedhours"}
_JDL_FIELDS = {
    "name": "JobName",
    "input_files": "InputSandbox",
    "output_files": "OutputSandbox",
    "env": "Environment",
    "stdout": "StdOutput",
    "stderr": "StdError",
    "max_attempts": "RetryCount",
    "expected_hours": "ExpectedHours",  # not gLite: the runtime estimate the broker plans with
}


class _Reader:
    """Reads typed attribute values into spec data, collecting errors as it goes."""

    def __init__(self, attributes: dict[str, Attribute]) -> None:
        self.attributes = attributes
        self.errors: list[tuple[str, str]] = []
        self.name_attribute = attributes.get("jobname") or attributes.get("name")

    def spec_data(self, default_name: str) -> dict[str, Any]:
        for key, attribute in self.attributes.items():
            if key not in _USED and key not in _IGNORED:
                where = f"line {attribute.line} column {attribute.column}"
                self.errors.append((attribute.name, f"unknown JDL attribute ({where})"))
        data: dict[str, Any] = {
            "name": self.job_name(default_name),
            "command": self.command(),
            "input_files": self.strings("inputsandbox"),
            "output_files": self.strings("outputsandbox"),
            "env": self.environment(),
            "stdout": self.string("stdoutput"),
            "stderr": self.string("stderror"),
        }
        retries = self.retry_count()
        if retries is not None:
            data["max_attempts"] = retries + 1
        hours = self.number("expectedhours")
        if hours is not None:
            data["expected_hours"] = hours
        return data

    def job_name(self, default_name: str) -> str | None:
        if self.name_attribute is None:
            return default_name
        return self.string(self.name_attribute.name.lower())

    def wrong(self, key: str, problem: str) -> None:
        self.errors.append((self.attributes[key].name, problem))

    def string(self, key: str) -> str | None:
        value = self.attributes[key].value if key in self.attributes else None
        if value is not None and not isinstance(value, str):
            self.wrong(key, f"must be a string, not {_kind(value)}")
            return None
        return value

    def strings(self, key: str) -> list[str]:
        value = self.attributes[key].value if key in self.attributes else []
        items = [value] if isinstance(value, str) else value
        if isinstance(items, list) and all(isinstance(item, str) for item in items):
            return [item for item in items if isinstance(item, str)]
        self.wrong(key, 'must be a list of strings such as {"a", "b"}')
        return []

    def command(self) -> list[str]:
        if "executable" not in self.attributes:
            self.errors.append(("Executable", "required attribute is missing"))
        executable, arguments = self.string("executable"), self.string("arguments")
        try:
            words = shlex.split(arguments) if arguments else []
        except ValueError as exc:
            self.wrong("arguments", f"cannot be split into words: {exc}")
            words = []
        return [executable or "", *words]

    def environment(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for index, entry in enumerate(self.strings("environment")):
            key, equals, value = entry.partition("=")
            field = f"{self.attributes['environment'].name}[{index}]"
            if not equals:
                self.errors.append((field, "must look like NAME=value"))
            elif key in env:
                self.errors.append((field, f"sets {key!r} again"))
            env[key] = value
        return env

    def number(self, key: str) -> int | float | None:
        """A number as written; its range is the spec's to check."""
        value = self.attributes[key].value if key in self.attributes else None
        if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            return value
        self.wrong(key, f"must be a number, not {_kind(value)}")
        return None

    def retry_count(self) -> int | None:
        value = self.attributes["retrycount"].value if "retrycount" in self.attributes else None
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 99:
            self.wrong("retrycount", "must be a whole number from 0 to 99")
            return None
        return value


def _kind(value: Value) -> str:
    if isinstance(value, Expression):
        return f"the expression {value.text!r}"
    if isinstance(value, bool):
        return "a boolean"
    names = {str: "a string", int: "a number", float: "a number", list: "a list"}
    return names.get(type(value), "a record")


def _jdl_field(field: str, named: bool) -> str:
    """Name a spec field (`input_files[1]`) by the JDL attribute it came from."""
    head = field.split("[", 1)[0].split(".", 1)[0]
    rest = field[len(head) :]
    if head == "command":
        return "Executable" if rest in ("", "[0]") else "Arguments"
    if head == "name" and not named:
        return field
    return _JDL_FIELDS.get(head, head) + rest
