"""The JDL tokenizer: strings (with escapes), numbers, names, operators; comments and blanks
are dropped. Offsets become 1-based line and column numbers for error messages."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import TypeAlias

from cbas_async.errors import InvalidSpec

Scalar: TypeAlias = str | int | float | bool

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


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "string", "number", "name", "end", or the operator itself
    text: str
    value: Scalar | None
    offset: int


class Where:
    """Turns offsets into 1-based line and column numbers for error messages."""

    def __init__(self, text: str) -> None:
        self._starts = [0, *(match.end() for match in re.finditer("\n", text))]

    def line_column(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1

    def error(self, offset: int, problem: str) -> InvalidSpec:
        return syntax_error(*self.line_column(offset), problem)


def syntax_error(line: int, column: int, problem: str) -> InvalidSpec:
    return InvalidSpec([("", f"JDL line {line} column {column}: {problem}")])


def tokenize(text: str, where: Where) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or (match.lastgroup == "op" and text.startswith("/*", position)):
            raise where.error(position, _lexical_problem(text, position))
        if match.lastgroup not in ("space", "comment"):
            tokens.append(_token(match, where))
        position = match.end()
    tokens.append(Token("end", "", None, len(text)))
    return tokens


def _token(match: re.Match[str], where: Where) -> Token:
    kind, text, offset = match.lastgroup or "", match[0], match.start()
    if kind == "string":
        return Token(kind, text, _unescape(text, offset, where), offset)
    if kind == "number":
        try:
            number = float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:  # more digits than int() accepts
            raise where.error(offset, "number too long") from None
        return Token(kind, text, number, offset)
    if kind == "name":
        return Token(kind, text, _BOOLEANS.get(text.lower()), offset)
    return Token(text, text, None, offset)


def _unescape(quoted: str, offset: int, where: Where) -> str:
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
