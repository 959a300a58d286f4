"""A small IAM policy evaluator for the tests: Allow statements, `*` and `?` wildcards in
actions (case-insensitive) and resources, and StringEquals/StringLike/ArnEquals/ArnLike
conditions on keys of the call's context (a key the call lacks fails the condition, as in
IAM). `ForAllValues:` operators take a multi-valued key (a tuple, as `dynamodb:LeadingKeys`):
every value must match, and, as in IAM, a key the call lacks passes. `Null` tests a key's
absence ("true") or presence ("false"); `${key}` in a condition's value is the call's value
of that key (a policy variable; none matches when the call lacks it). The generated policies
have no Deny, so "allowed" is "some Allow statement matches"; `allows_session` is a call
made with session credentials: both the role's policy and the session policy allow it.
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
    context: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)


def _wildcard(pattern: str, *, fold: bool = False) -> re.Pattern[str]:
    body = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(f"^{body}$", re.IGNORECASE if fold else 0)


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


_OPERATORS = ("StringEquals", "StringLike", "ArnEquals", "ArnLike")


def _variables(wanted: str, call: Call) -> str | None:
    """`${aws:userid}` and the like, from the call's context; None (matches nothing, as in
    IAM) when the call lacks one."""
    names = re.findall(r"\$\{([^}]+)\}", wanted)
    if any(name not in call.context for name in names):
        return None
    return re.sub(r"\$\{([^}]+)\}", lambda m: str(call.context[m.group(1)]), wanted)


def _condition_holds(condition: Mapping[str, Mapping[str, Any]], call: Call) -> bool:
    for operator, keys in condition.items():
        if operator == "Null":
            if any((key not in call.context) != (v == "true") for key, v in keys.items()):
                return False
            continue
        every, _, name = operator.rpartition(":")
        assert name in _OPERATORS, operator
        assert every in ("", "ForAllValues"), operator
        for key, wanted in keys.items():
            if key not in call.context:
                if every:
                    continue  # IAM: ForAllValues over no values is true
                return False
            like = name.endswith("Like")
            listed = [w for w in (_variables(w, call) for w in _listed(wanted)) if w is not None]
            patterns = [_wildcard(w) if like else re.compile(re.escape(w)) for w in listed]
            value = call.context[key]
            values = value if isinstance(value, tuple) else (value,)
            assert every or len(values) == 1, f"{key} has many values: use ForAllValues"
            if not all(any(p.fullmatch(v) for p in patterns) for v in values):
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


def allows_session(role: Mapping[str, Any], session: Mapping[str, Any], call: Call) -> bool:
    return allows(role, call) and allows(session, call)
