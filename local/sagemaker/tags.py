"""Tags on an engine's resources (training jobs, tuning jobs, models, endpoint configurations,
endpoints), by ARN: AddTags, ListTags, DeleteTags, and the ``Tags`` of every Create* request.

AWS keeps tags with the resource, so a resource made again under a deleted one's name starts with only
the tags its own Create* request gave (:meth:`Tags.replace`). The SageMaker Python SDK's
``Estimator.attach`` calls ListTags on the training job, so an unknown ARN must be an error of the
API, not a crash of the front end.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from local.sagemaker.errors import ValidationError
from local.sagemaker.registry import paginate

TAGS_PER_RESOURCE_MAX = 50  # SageMaker's limit, per the AddTags reference


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
