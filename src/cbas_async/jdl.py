"""gLite JDL import: a tokenizer and recursive-descent parser, and conversion to a `JobSpec`.

JDL is ClassAd-like: `[ Name = value; ... ]`, brackets optional, names case-insensitive,
`#`, `//` and `/* */` comments. Values are double-quoted strings, numbers, true/false,
`{...}` lists and nested `[...]` records. Anything else (`other.GlueCEStateStatus ==
"Production"`) is kept as an unevaluated `Expression`, so real Requirements and Rank
clauses parse and can be ignored. Every problem raises `InvalidSpec`; syntax errors say
("", "JDL line L column C: ...").
"""

from __future__ import annotations

import bisect
import re
import shlex
from dataclasses import dataclass
from typing import Any, TypeAlias

from cbas_async.errors import InvalidSpec
from cbas_async.jobs import JobSpec, parse_spec

Scalar: TypeAlias = str | int | float | bool
Value: TypeAlias = "Scalar | list[Value] | Record | Expression"


@dataclass(frozen=True, slots=True)
class Expression:
    """A ClassAd expression kept as its source text; it is never evaluated."""

    text: str


@dataclass(frozen=True, slots=True)
class Record:
    """A nested `[ ... ]` ClassAd, as in DataRequirements; keys are lower-case names."""

    attributes: dict[str, Attribute]


@dataclass(frozen=True, slots=True)
class Attribute:
    """One `Name = value;`, its name as written and where it starts (1-based)."""

    name: str
    value: Value
    line: int
    column: int


def parse_jdl(text: str) -> dict[str, Attribute]:
    """Parse JDL text into its attributes keyed by lower-case name, in file order."""
    return _Parser(text).document()


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


# --- tokenizer -------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<comment>(?:\#|//)[^\n]* | /\*(?s:.*?)\*/)
    | (?P<string>"(?:[^"\\\n]|\\.)*")
    | (?P<number>[-+]?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?(?![A-Za-z0-9_.]))
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op>=\?=|=!=|==|!=|<=|>=|&&|\|\||[=;,{}\[\]()<>!+\-*/%.?:])
    """,
    re.VERBOSE | re.ASCII,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"} | {c: c for c in "\"\\'/"}
_BOOLEANS = {"true": True, "false": False}
_PAIRS = {"(": ")", "[": "]", "{": "}"}
_TERMINATORS = frozenset({";", ",", ")", "]", "}", "end"})
_MAX_DEPTH = 32


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "string", "number", "name", "end", or the operator itself
    text: str
    value: Scalar | None
    offset: int


class _Where:
    """Turns offsets into 1-based line and column numbers for error messages."""

    def __init__(self, text: str) -> None:
        self._starts = [0, *(match.end() for match in re.finditer("\n", text))]

    def line_column(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1

    def error(self, offset: int, problem: str) -> InvalidSpec:
        return _syntax_error(*self.line_column(offset), problem)


def _syntax_error(line: int, column: int, problem: str) -> InvalidSpec:
    return InvalidSpec([("", f"JDL line {line} column {column}: {problem}")])


def _tokenize(text: str, where: _Where) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or (match.lastgroup == "op" and text.startswith("/*", position)):
            raise where.error(position, _lexical_problem(text, position))
        if match.lastgroup not in ("space", "comment"):
            tokens.append(_token(match, where))
        position = match.end()
    tokens.append(_Token("end", "", None, len(text)))
    return tokens


def _token(match: re.Match[str], where: _Where) -> _Token:
    kind, text, offset = match.lastgroup or "", match[0], match.start()
    if kind == "string":
        return _Token(kind, text, _unescape(text, offset, where), offset)
    if kind == "number":
        try:
            number = float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:  # more digits than int() accepts
            raise where.error(offset, "number too long") from None
        return _Token(kind, text, number, offset)
    if kind == "name":
        return _Token(kind, text, _BOOLEANS.get(text.lower()), offset)
    return _Token(text, text, None, offset)


def _unescape(quoted: str, offset: int, where: _Where) -> str:
    def replace(match: re.Match[str]) -> str:
        if match[1] not in _ESCAPES:
            raise where.error(offset + 1 + match.start(), f"unknown escape '\\{match[1]}'")
        return _ESCAPES[match[1]]

    return re.sub(r"\\(.)", replace, quoted[1:-1])


def _lexical_problem(text: str, position: int) -> str:
    char = text[position]
    if char == '"':
        return "unterminated string (it must close on the same line)"
    if text.startswith("/*", position):
        return "unterminated comment"
    if char in "0123456789":
        return "invalid number"
    return f"unexpected character {char!r}"


# --- parser ----------------------------------------------------------------------------


def _describe(token: _Token) -> str:
    return {"end": "end of input", "string": "a string"}.get(token.kind, f"'{token.text}'")


class _Parser:
    """Recursive descent over the token list; `self.index` is the current token."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.where = _Where(text)
        self.tokens = _tokenize(text, self.where)
        self.index = 0
        self.depth = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.token
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def fail(self, token: _Token, problem: str) -> InvalidSpec:
        return self.where.error(token.offset, problem)

    def document(self) -> dict[str, Attribute]:
        if self.token.kind != "[":
            return self.attributes(None)
        attributes = self.record().attributes
        if self.token.kind != "end":
            raise self.fail(self.token, "unexpected text after the closing ']'")
        return attributes

    def record(self) -> Record:
        opener = self.advance()
        attributes = self.attributes(opener)
        self.advance()
        return Record(attributes)

    def attributes(self, opener: _Token | None) -> dict[str, Attribute]:
        closer = "]" if opener else "end"
        found: dict[str, Attribute] = {}
        while self.token.kind != closer:
            if opener and self.token.kind == "end":
                raise self.fail(opener, "unclosed '['")
            attribute = self.attribute()
            _add(found, attribute)
            if self.token.kind == ";":
                self.advance()
            elif self.token.kind != closer:
                raise self.fail(self.token, f"expected ';', found {_describe(self.token)}")
        return found

    def attribute(self) -> Attribute:
        name = self.advance()
        if name.kind != "name":
            raise self.fail(name, f"expected an attribute name, found {_describe(name)}")
        if self.token.kind != "=":
            raise self.fail(self.token, f"missing '=' after '{name.text}'")
        self.advance()
        return Attribute(name.text, self.value(True), *self.where.line_column(name.offset))

    def value(self, expression_ok: bool) -> Value:
        start, first = self.token, self.index
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.fail(start, "values nested too deeply")
        value = self.literal()
        self.depth -= 1
        if expression_ok and (value is None or self.token.kind not in _TERMINATORS):
            self.index = first  # not a plain value after all: read it again as an expression
            return self.expression()
        if value is None:
            raise self.fail(start, f"expected a value, found {_describe(start)}")
        return value

    def literal(self) -> Value | None:
        token = self.token
        if token.kind == "{":
            return self.list_value()
        if token.kind == "[":
            return self.record()
        if token.kind in ("string", "number") or isinstance(token.value, bool):
            self.advance()
            return token.value
        return None

    def list_value(self) -> list[Value]:
        opener = self.advance()
        items: list[Value] = []
        while self.token.kind != "}":
            items.append(self.value(False))
            if self.token.kind == ",":
                self.advance()
            elif self.token.kind in (";", "]", "end"):
                raise self.fail(opener, "unclosed '{'")
            elif self.token.kind != "}":
                raise self.fail(self.token, f"expected ',' or '}}', found {_describe(self.token)}")
        self.advance()
        return items

    def expression(self) -> Expression:
        first = self.index
        opened: list[_Token] = []
        while not self.expression_ends(opened):
            self.advance()
        if self.index == first:
            raise self.fail(self.token, f"expected a value, found {_describe(self.token)}")
        last = self.tokens[self.index - 1]
        return Expression(self.text[self.tokens[first].offset : last.offset + len(last.text)])

    def expression_ends(self, opened: list[_Token]) -> bool:
        """Whether the current token ends the expression; tracks brackets in `opened`."""
        token = self.token
        if token.kind in _PAIRS:
            opened.append(token)
            return False
        if opened and (token.kind in (";", "end") or token.kind in _PAIRS.values()):
            if token.kind != _PAIRS[opened[-1].kind]:
                raise self.fail(opened[-1], f"unclosed '{opened[-1].kind}'")
            opened.pop()
            return False
        if token.kind == "=" and not opened:
            previous = self.tokens[self.index - 1]
            if previous.kind == "name":
                raise self.fail(previous, f"missing ';' before '{previous.text}'")
            raise self.fail(token, "unexpected '='")
        return not opened and token.kind in _TERMINATORS


def _add(found: dict[str, Attribute], attribute: Attribute) -> None:
    first = found.setdefault(attribute.name.lower(), attribute)
    if first is not attribute:
        where = f"first set at line {first.line} column {first.column}"
        problem = f"duplicate attribute '{attribute.name}' ({where})"
        raise _syntax_error(attribute.line, attribute.column, problem)


# --- conversion ------------------------------------------------------------------------

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
