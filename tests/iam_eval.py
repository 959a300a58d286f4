"""A small IAM policy evaluator for the tests: Allow statements, `*` and `?` wildcards in
actions (case-insensitive) and resources, and StringEquals/StringLike/ArnEquals/ArnLike
conditions on keys of the call's context (a key the call lacks fails the condition, as in
IAM). The generated policies have no Deny, so "allowed" is "some Allow statement matches".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Call:
    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


def _wildcard(pattern: str, *, fold: bool = False) -> re.Pattern[str]:
    body = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(f"^{body}$", re.IGNORECASE if fold else 0)


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _condition_holds(condition: Mapping[str, Mapping[str, Any]], call: Call) -> bool:
    for operator, keys in condition.items():
        assert operator in ("StringEquals", "StringLike", "ArnEquals", "ArnLike"), operator
        for key, wanted in keys.items():
            if key not in call.context:
                return False
            like = operator.endswith("Like")
            patterns = [_wildcard(w) if like else re.compile(re.escape(w)) for w in _listed(wanted)]
            if not any(p.fullmatch(call.context[key]) for p in patterns):
                return False
    return True


def allows(document: Mapping[str, Any], call: Call) -> bool:
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = _listed(statement["Action"])
        resources = _listed(statement["Resource"])
        if (
            any(_wildcard(a, fold=True).match(call.action) for a in actions)
            and any(_wildcard(r).match(call.resource) for r in resources)
            and _condition_holds(statement.get("Condition", {}), call)
        ):
            return True
    return False
