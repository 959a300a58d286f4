"""The JDL parser: recursive descent over the tokens into attributes, lists, nested records
and unevaluated expressions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from cbas_async.errors import InvalidSpec
from cbas_async.jdl.tokens import Scalar, Token, Where, syntax_error, tokenize

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


_PAIRS = {"(": ")", "[": "]", "{": "}"}
_TERMINATORS = frozenset({";", ",", ")", "]", "}", "end"})
_MAX_DEPTH = 32


def _describe(token: Token) -> str:
    return {"end": "end of input", "string": "a string"}.get(token.kind, f"'{token.text}'")


class _Parser:
    """Recursive descent over the token list; `self.index` is the current token."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.where = Where(text)
        self.tokens = tokenize(text, self.where)
        self.index = 0
        self.depth = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.token
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def fail(self, token: Token, problem: str) -> InvalidSpec:
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

    def attributes(self, opener: Token | None) -> dict[str, Attribute]:
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
        opened: list[Token] = []
        while not self.expression_ends(opened):
            self.advance()
        if self.index == first:
            raise self.fail(self.token, f"expected a value, found {_describe(self.token)}")
        last = self.tokens[self.index - 1]
        return Expression(self.text[self.tokens[first].offset : last.offset + len(last.text)])

    def expression_ends(self, opened: list[Token]) -> bool:
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
        raise syntax_error(attribute.line, attribute.column, problem)
