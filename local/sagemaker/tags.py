"""Tags on an engine's resources (training jobs, tuning jobs, models, endpoint configurations,
endpoints), by ARN: AddTags, ListTags, DeleteTags, and the ``Tags`` of every Create* request.

AWS keeps tags with the resource, so a resource made again under a deleted one's name starts with only
the tags its own Create* request gave (:meth:`Tags.replace`). A tag outside SageMaker's TagKey and
TagValue constraints fails the whole request, as AWS's does (:func:`check_tags`). The SageMaker Python SDK's
``Estimator.attach`` calls ListTags on the training job, so an unknown ARN must be an error of the
API, not a crash of the front end.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from local.sagemaker.errors import ValidationError
from local.sagemaker.registry import paginate

TAGS_PER_RESOURCE_MAX = 50  # SageMaker's limit, per the AddTags reference
# The service model's TagKey (1-128) and TagValue (0-256): ([\p{L}\p{Z}\p{N}_.:/=+\-@]*)
TAG_PATTERN = r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)"
_TAG_LIMITS = (("Key", "key", 128), ("Value", "value", 256))
_TAG_SYMBOLS = frozenset("_.:/=+-@")
RESERVED_PREFIX = "aws:"


def _in_tag_alphabet(text: str) -> bool:
    return all(unicodedata.category(c)[0] in "LZN" or c in _TAG_SYMBOLS for c in text)


def check_tags(tags: Iterable[Mapping[str, str]] | None) -> None:
    """Refuse tags SageMaker refuses, with its "N validation errors detected" message."""
    problems = []
    for index, tag in enumerate(tags or [], start=1):
        for field, member, limit in _TAG_LIMITS:
            text = tag.get(field, "")
            where = f"Value '{text}' at 'tags.{index}.member.{member}' failed to satisfy constraint: Member must"
            if len(text) > limit:
                problems.append(f"{where} have length less than or equal to {limit}")
            elif not _in_tag_alphabet(text):
                problems.append(f"{where} satisfy regular expression pattern: {TAG_PATTERN}")
        if tag.get("Key", "").lower().startswith(RESERVED_PREFIX):
            problems.append(f"Tag keys starting with '{RESERVED_PREFIX}' are reserved for AWS use: {tag['Key']}")
    if problems:
        plural = "s" if len(problems) > 1 else ""
        raise ValidationError(f"{len(problems)} validation error{plural} detected: " + "; ".join(problems))


class Tags:
    """Every tagged resource's tags, by ARN. ``arns()`` names the resources that exist now."""

    def __init__(self, arns: Callable[[], set[str]]) -> None:
        self._arns = arns
        self._lock = threading.Lock()
        self._tags: dict[str, dict[str, str]] = {}

    def replace(self, arn: str, tags: Iterable[Mapping[str, str]] | None) -> None:
        """A resource was created: it has the request's tags and no other."""
        with self._lock:
            self._tags[arn] = {}
        if tags:
            self.add({"ResourceArn": arn, "Tags": list(tags)})

    def add(self, request: Mapping[str, Any]) -> dict[str, Any]:
        arn = self._existing(request["ResourceArn"])
        given = {tag["Key"]: tag.get("Value", "") for tag in request.get("Tags") or []}
        with self._lock:
            merged = {**self._tags.get(arn, {}), **given}
            if len(merged) > TAGS_PER_RESOURCE_MAX:
                raise ValidationError(
                    f"The number of tags for resource {arn} would exceed the maximum of {TAGS_PER_RESOURCE_MAX}."
                )
            self._tags[arn] = merged
        return {"Tags": [{"Key": key, "Value": value} for key, value in given.items()]}

    def list(self, request: Mapping[str, Any]) -> dict[str, Any]:
        arn = self._existing(request["ResourceArn"])
        with self._lock:
            tags = [{"Key": key, "Value": value} for key, value in self._tags.get(arn, {}).items()]
        return paginate(tags, "Tags", request)

    def delete(self, request: Mapping[str, Any]) -> dict[str, Any]:
        arn = self._existing(request["ResourceArn"])
        with self._lock:
            tags = self._tags.get(arn, {})
            for key in request.get("TagKeys") or []:
                tags.pop(key, None)
        return {}

    def _existing(self, arn: str) -> str:
        if arn not in self._arns():
            raise ValidationError(f"Resource {arn} does not exist.")
        return arn
