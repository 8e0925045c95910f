"""What SageMaker refuses by its service model: maximum lengths and values, patterns and enums.

botocore checks only required members and minimums before sending (Step Functions' clients not even
those), so the rest of the model's constraints are the service's to check, and local mode checks them
with AWS's message format. Processing jobs use it; other operations may too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, Shape, StringShape, StructureShape

from local.sagemaker.errors import ValidationError


def check_request(operation: str, request: Mapping[str, Any]) -> Mapping[str, Any]:
    """Refuse what the service model's constraints refuse, with AWS's "N validation errors detected:
    Value 'x' at 'member.path' failed to satisfy constraint: …" message; returns the request.

    botocore checks only required members and minimums before sending (Step Functions' clients not even
    those), so the maximums, patterns and enums are the service's to check. ``Tags`` are left to
    :func:`local.sagemaker.tags.check_tags`, which every Create* runs first.
    """
    problems = list(_violations(_input_shape(operation), request, ""))
    if problems:
        plural = "s" if len(problems) > 1 else ""
        raise ValidationError(f"{len(problems)} validation error{plural} detected: " + "; ".join(problems))
    return request


@cache
def _input_shape(operation: str) -> Shape:
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model(operation).input_shape
    assert shape is not None
    return shape


def _violations(shape: Shape, value: Any, path: str) -> Iterator[str]:
    if isinstance(shape, StructureShape) and isinstance(value, Mapping):
        for name in shape.required_members:
            if value.get(name) is None:
                where = _member_path(path, name)
                yield f"Value null at '{where}' failed to satisfy constraint: Member must not be null"
        for name, member in shape.members.items():
            if value.get(name) is not None and name != "Tags":
                yield from _violations(member, value[name], _member_path(path, name))
    elif isinstance(shape, ListShape) and isinstance(value, list):
        yield from _at(path, value, _size_limits(shape, len(value)))
        for index, item in enumerate(value, start=1):
            yield from _violations(shape.member, item, f"{path}.{index}.member")
    elif isinstance(shape, MapShape) and isinstance(value, Mapping):
        yield from _at(path, value, _size_limits(shape, len(value)))
        for part, inner, items in (("keys", shape.key, value.keys()), ("value", shape.value, value.values())):
            broken = sorted({problem for item in items for problem in _scalar_limits(inner, item)})
            if broken:
                yield from _at(path, value, [f"Map {part} must satisfy constraint: [{', '.join(broken)}]"])
    else:
        yield from _at(path, value, _scalar_limits(shape, value))


def _at(path: str, value: Any, problems: list[str]) -> Iterator[str]:
    for problem in problems:
        yield f"Value '{_java_text(value)}' at '{path}' failed to satisfy constraint: {problem}"


def _scalar_limits(shape: Shape, value: Any) -> list[str]:
    rules = shape.metadata
    if isinstance(value, str):
        found = _size_limits(shape, len(value))
        pattern = rules.get("pattern")
        if pattern is not None and (compiled := _pattern(pattern)) is not None and not compiled.fullmatch(value):
            found.append(f"Member must satisfy regular expression pattern: {pattern}")
        if isinstance(shape, StringShape) and shape.enum and value not in shape.enum:
            found.append(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        return found
    if isinstance(value, int) and not isinstance(value, bool):
        return _bounds(rules, value, "value")
    return []


def _size_limits(shape: Shape, size: int) -> list[str]:
    return _bounds(shape.metadata, size, "length")


def _bounds(rules: Mapping[str, Any], measured: int, what: str) -> list[str]:
    """The model's ``min``/``max`` on a number's value or a string's, list's or map's length."""
    found = []
    if "min" in rules and measured < rules["min"]:
        found.append(f"Member must have {what} greater than or equal to {rules['min']}")
    if "max" in rules and measured > rules["max"]:
        found.append(f"Member must have {what} less than or equal to {rules['max']}")
    return found


@cache
def _pattern(pattern: str) -> re.Pattern[str] | None:
    """The model's (Java) pattern for Python, ASCII classes as in Java; None for one Python cannot read
    (``\\p{L}``, surrogate ranges), which is then not checked."""
    try:
        return re.compile(pattern, re.ASCII)
    except re.error:
        return None


def _member_path(path: str, name: str) -> str:
    """AWS names a member in lower camel case: ``ClusterConfig.InstanceCount`` → ``clusterConfig.instanceCount``."""
    member = name[0].lower() + name[1:]
    return f"{path}.{member}" if path else member


def _java_text(value: Any) -> str:
    """A value as the Java service prints it in the message (lists ``[a, b]``, maps ``{k=v}``)."""
    if isinstance(value, list):
        return "[" + ", ".join(_java_text(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key}={_java_text(item)}" for key, item in value.items()) + "}"
    return str(value)
