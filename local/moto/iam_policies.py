"""IAM's decision for one request from identity-based policies: ``allowed``, ``explicitDeny`` or
``implicitDeny``, as the IAM policy evaluation logic defines it for a principal of the same account.

moto's own evaluator (``moto.iam.access_control``) cannot judge the template's policies: a statement
whose ``Condition`` it cannot verify is an explicit *deny* (so ``iam:PassedToService`` or ``s3:prefix``
lock the role out of what the statement allows), and it never sees a resource other than ``*`` for
most services (so a statement scoped to ARNs never applies). This one reads every element the
template uses: ``Action``/``NotAction``, ``Resource``/``NotResource`` with ``*`` and ``?`` wildcards,
and ``Condition`` with the string, ARN, Bool, Null and numeric operators, their ``IfExists`` forms and
the ``ForAnyValue:``/``ForAllValues:`` set qualifiers. Not read: ``Principal`` (identity policies
have none), ``${aws:...}`` policy variables, resource-based policies, permission boundaries, SCPs and
session policies, none of which local mode's stack uses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

Decision = Literal["allowed", "explicitDeny", "implicitDeny"]
Context = Mapping[str, Sequence[str]]
"""Condition keys (any case) → the request's values for them."""


@dataclass(frozen=True)
class Policy:
    """One policy document and the id IAM reports it by (a managed policy's ARN, an inline one's name)."""

    policy_id: str
    document: Mapping[str, Any]

    @classmethod
    def parse(cls, policy_id: str, document: str | Mapping[str, Any]) -> Policy:
        return cls(policy_id, json.loads(document) if isinstance(document, str) else document)

    def statements(self) -> list[Mapping[str, Any]]:
        found = self.document.get("Statement", [])
        return [found] if isinstance(found, Mapping) else list(found)


@dataclass(frozen=True)
class Evaluation:
    """The decision for one action on one resource, and what led to it (SimulatePrincipalPolicy's fields)."""

    action: str
    resource: str
    decision: Decision
    matched: tuple[str, ...] = ()
    """Ids of the policies whose statements decided (the denying ones for an explicit deny)."""
    missing_context: tuple[str, ...] = field(default=())
    """Condition keys a statement that names this action and resource asked for and the request lacked."""


def evaluate(policies: Iterable[Policy], action: str, resource: str, context: Context | None = None) -> Evaluation:
    """Decide ``action`` on ``resource``: any matching Deny wins, then any matching Allow, else implicit deny."""
    values = {key.lower(): list(found) for key, found in (context or {}).items()}
    allowing: list[str] = []
    denying: list[str] = []
    missing: set[str] = set()
    for policy in policies:
        for statement in policy.statements():
            if not (_names_action(statement, action) and _names_resource(statement, resource)):
                continue
            condition = statement.get("Condition", {})
            missing |= {key for key in _condition_keys(condition) if key.lower() not in values}
            if not _conditions_hold(condition, values):
                continue
            (denying if statement.get("Effect") == "Deny" else allowing).append(policy.policy_id)
    if denying:
        return Evaluation(action, resource, "explicitDeny", tuple(dict.fromkeys(denying)), tuple(sorted(missing)))
    if allowing:
        return Evaluation(action, resource, "allowed", tuple(dict.fromkeys(allowing)), tuple(sorted(missing)))
    return Evaluation(action, resource, "implicitDeny", (), tuple(sorted(missing)))


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcards: ``*`` any run of characters (``:`` and ``/`` included), ``?`` any one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = (re.IGNORECASE | re.DOTALL) if ignore_case else re.DOTALL
    return re.fullmatch(regex, value, flags) is not None


def _listed(element: Any) -> list[str]:
    return [element] if isinstance(element, str) else [str(item) for item in element or []]


def trust_allows(trust: Policy, principal_type: str, names: Iterable[str]) -> bool:
    """Whether a role's trust policy lets one of ``names`` assume it: an Allow of ``sts:AssumeRole``
    (wildcards read as IAM reads them) whose ``Principal`` of ``principal_type`` (``AWS``, ``Service``)
    lists one of the names; ``"Principal": "*"`` lets anyone."""
    wanted = set(names)
    for statement in trust.statements():
        principals = statement.get("Principal", {})
        listed = (
            ["*"]
            if principals == "*"
            else _listed(principals.get(principal_type))
            if isinstance(principals, Mapping)
            else []
        )
        if (
            statement.get("Effect") == "Allow"
            and any(wildcard_match(a, "sts:AssumeRole", ignore_case=True) for a in _listed(statement.get("Action")))
            and ("*" in listed or wanted & set(listed))
        ):
            return True
    return False


def _names_action(statement: Mapping[str, Any], action: str) -> bool:
    """Action names are case-insensitive (``s3:getobject`` is ``s3:GetObject``)."""
    if "NotAction" in statement:
        return not any(wildcard_match(p, action, ignore_case=True) for p in _listed(statement["NotAction"]))
    return any(wildcard_match(p, action, ignore_case=True) for p in _listed(statement.get("Action")))


def _names_resource(statement: Mapping[str, Any], resource: str) -> bool:
    """ARNs are case-sensitive; ``*`` names every resource (and a request for ``*`` only a ``*`` statement)."""
    if "NotResource" in statement:
        return not any(wildcard_match(p, resource) for p in _listed(statement["NotResource"]))
    return any(wildcard_match(p, resource) for p in _listed(statement.get("Resource", "*")))


# Conditions ----------------------------------------------------------------------------------------

_NEGATED: Final = {
    "StringNotEquals",
    "StringNotEqualsIgnoreCase",
    "StringNotLike",
    "ArnNotEquals",
    "ArnNotLike",
    "NumericNotEquals",
}


def _condition_keys(condition: Mapping[str, Mapping[str, Any]]) -> set[str]:
    return {key for block in condition.values() for key in block}


def _conditions_hold(condition: Mapping[str, Mapping[str, Any]], values: dict[str, list[str]]) -> bool:
    """Every operator block and every key in it must hold (AND); a key's listed values are ORed."""
    for operator, block in condition.items():
        for key, expected in block.items():
            if not _holds(operator, _listed(expected), values.get(key.lower())):
                return False
    return True


def _holds(operator: str, expected: list[str], actual: list[str] | None) -> bool:
    qualifier, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists")
    if name == "Null":  # "true": the key is absent; "false": it is present
        return (actual is None) == (expected[0].lower() == "true")
    if actual is None:
        # A missing key satisfies IfExists and the negated operators; ForAllValues holds on an empty set.
        return if_exists or name in _NEGATED or qualifier == "ForAllValues"
    if name in _NEGATED:
        positive = name.replace("Not", "", 1)
        matches = [any(_compare(positive, want, value) for want in expected) for value in actual]
        return not any(matches)
    matches = [any(_compare(name, want, value) for want in expected) for value in actual]
    return all(matches) if qualifier == "ForAllValues" else any(matches)


def _compare(operator: str, expected: str, actual: str) -> bool:
    if operator == "StringEquals":
        return expected == actual
    if operator in ("StringEqualsIgnoreCase", "Bool"):
        return expected.lower() == actual.lower()
    if operator in ("StringLike", "ArnLike", "ArnEquals"):  # both ARN operators take wildcards
        return wildcard_match(expected, actual)
    if operator.startswith("Numeric"):
        return _compare_numbers(operator, float(expected), float(actual))
    raise ValueError(f"condition operator {operator} is not supported in local mode")


def _compare_numbers(operator: str, expected: float, actual: float) -> bool:
    comparisons = {
        "NumericEquals": actual == expected,
        "NumericLessThan": actual < expected,
        "NumericLessThanEquals": actual <= expected,
        "NumericGreaterThan": actual > expected,
        "NumericGreaterThanEquals": actual >= expected,
    }
    return comparisons[operator]
