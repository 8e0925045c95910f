"""Resources of one kind by name, and how the List* operations filter, sort and page them.

Every kind (training jobs, tuning jobs, models, endpoint configurations, endpoints) is a
:class:`Registry`: names are unique, a lookup of a missing name raises the error AWS gives for that kind,
and every read and write takes one lock. A registry may share its lock with others when their changes
must be seen together (an endpoint configuration names models that must exist when it is made).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from local.sagemaker.errors import SageMakerApiError

T = TypeVar("T")
Summary = dict[str, Any]

DEFAULT_PAGE_SIZE = 100
# The List* operations' time filters: request parameter → (summary field, whether a value passes).
_TIME_BOUNDS: tuple[tuple[str, str, Callable[[Any, Any], bool]], ...] = (
    ("CreationTimeAfter", "CreationTime", lambda value, bound: value > bound),
    ("CreationTimeBefore", "CreationTime", lambda value, bound: value < bound),
    ("LastModifiedTimeAfter", "LastModifiedTime", lambda value, bound: value > bound),
    ("LastModifiedTimeBefore", "LastModifiedTime", lambda value, bound: value < bound),
)


class Registry(Generic[T]):
    """Named resources of one kind. ``missing(name)`` is the error a lookup of an unknown name raises."""

    def __init__(
        self, missing: Callable[[str], SageMakerApiError], *, lock: threading.Lock | threading.RLock | None = None
    ) -> None:
        self.lock: threading.Lock | threading.RLock = lock if lock is not None else threading.Lock()
        self._missing = missing
        self._items: dict[str, T] = {}

    def add(self, name: str, make: Callable[[], T], *, taken: Callable[[T], SageMakerApiError]) -> T:
        """Store what ``make()`` returns under ``name``; ``taken(existing)`` is raised when the name is in use.

        ``make`` runs under the lock, after the name was found free.
        """
        with self.lock:
            existing = self._items.get(name)
            if existing is not None:
                raise taken(existing)
            item = make()
            self._items[name] = item
            return item

    def find(self, name: str) -> T | None:
        with self.lock:
            return self._items.get(name)

    def get(self, name: str) -> T:
        item = self.find(name)
        if item is None:
            raise self._missing(name)
        return item

    def __contains__(self, name: str) -> bool:
        with self.lock:
            return name in self._items

    def remove(self, name: str) -> T:
        with self.lock:
            item = self._items.pop(name, None)
        if item is None:
            raise self._missing(name)
        return item

    def values(self) -> list[T]:
        """Every resource, in creation order."""
        with self.lock:
            return list(self._items.values())

    def clear(self) -> list[T]:
        """Forget every resource; returns them, in creation order."""
        with self.lock:
            items = list(self._items.values())
            self._items.clear()
            return items


@dataclass(frozen=True)
class Listing:
    """How a List* operation filters, sorts and pages its summaries.

    ``NameContains`` and ``StatusEquals`` apply to ``name_field`` and ``status_field`` (for the kinds
    that have a status); with ``time_bounds``, so do the creation and modification time bounds, whether
    they come as datetimes (in-process callers) or as the epoch seconds of the JSON wire protocol
    (boto3, the AWS CLI). ``SortBy`` is a key of
    ``sort_fields`` (anything else sorts by ``CreationTime``), ``SortOrder`` defaults to ``default_order``.
    """

    page_key: str
    name_field: str
    sort_fields: Mapping[str, str]
    status_field: str | None = None
    default_order: str = "Ascending"
    time_bounds: bool = False

    def select(self, summaries: Iterable[Summary], request: Mapping[str, Any]) -> list[Summary]:
        selected = list(summaries)
        if request.get("NameContains"):
            selected = [s for s in selected if request["NameContains"] in s[self.name_field]]
        if request.get("StatusEquals") and self.status_field:
            status_field = self.status_field
            selected = [s for s in selected if s[status_field] == request["StatusEquals"]]
        if self.time_bounds:
            for parameter, field, keep in _TIME_BOUNDS:
                if request.get(parameter) is not None:
                    bound = as_time(request[parameter])
                    selected = [s for s in selected if keep(s[field], bound)]
        key = self.sort_fields.get(request.get("SortBy") or "CreationTime", "CreationTime")
        descending = (request.get("SortOrder") or self.default_order) == "Descending"
        selected.sort(key=lambda s: s[key], reverse=descending)
        return selected

    def page(self, summaries: Iterable[Summary], request: Mapping[str, Any]) -> dict[str, Any]:
        return paginate(self.select(summaries, request), self.page_key, request)


def as_time(value: datetime | float | int | str) -> datetime:
    """A request's timestamp as an aware datetime: botocore sends epoch seconds in JSON, a caller in
    this process may pass a datetime (naive ones are UTC, as botocore reads them) or ISO 8601 text."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except ValueError:
            return as_time(datetime.fromisoformat(value))
    return datetime.fromtimestamp(value, UTC)


def paginate(items: Sequence[Summary], key: str, request: Mapping[str, Any]) -> dict[str, Any]:
    """``MaxResults``/``NextToken`` paging; the token is the offset of the next page."""
    start = int(request.get("NextToken") or 0)
    size = int(request.get("MaxResults") or DEFAULT_PAGE_SIZE)
    page: dict[str, Any] = {key: list(items[start : start + size])}
    if start + size < len(items):
        page["NextToken"] = str(start + size)
    return page


class Job(Protocol):
    """What a job registry needs of a job: its Describe* and List* views, and a stop it can wait for."""

    def describe(self) -> dict[str, Any]: ...

    def summary(self) -> dict[str, Any]: ...

    def stop(self) -> None: ...

    def wait(self, timeout: float | None = None) -> bool: ...


J = TypeVar("J", bound=Job)


class JobRegistry(Registry[J]):
    """Jobs (training or tuning) by name: Describe* and List* answered from the jobs, and a shutdown that
    stops every job and waits for each (at most ``stop_timeout_s`` apiece)."""

    def __init__(self, missing: Callable[[str], SageMakerApiError], *, listing: Listing, stop_timeout_s: float) -> None:
        super().__init__(missing)
        self._listing = listing
        self._stop_timeout_s = stop_timeout_s

    def describe(self, name: str) -> dict[str, Any]:
        return self.get(name).describe()

    def shutdown(self) -> None:
        jobs = self.values()
        for job in jobs:
            job.stop()
        for job in jobs:
            job.wait(timeout=self._stop_timeout_s)

    def list(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The List* page of the jobs' summaries."""
        return self._listing.page([job.summary() for job in self.values()], request)
