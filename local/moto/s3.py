"""S3 event notifications shaped as AWS sends them: the object's version, a sequencer, the key as S3 encodes it.

moto's notification record (``moto.s3.notifications._get_s3_event``) names an object by key, size and
ETag only. AWS's (the "Event message structure" page of the S3 user guide) also carries
``s3.object.versionId`` when the bucket has versioning and a ``sequencer`` that orders the events of one
key; the pipeline's bucket is versioned, and the ingest tells one upload from another by that version:
without it, two uploads of the same bytes look like one (same ETag) and the second is never run. moto also
percent-encodes the ``/`` of a key, which AWS leaves as it is, and gives removal events a size and ETag,
which AWS's do not have.

Here every record moto builds gets those fields as AWS writes them. One ``send_event`` is one event, and
all the records it sends (to a function, a queue, a topic) share its sequencer.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import quote_plus

from moto.s3 import notifications

from local.moto.state import Replacements

_REMOVAL_PREFIX: Final = "ObjectRemoved:"
# Versioning that was ever turned on (Enabled, or Suspended later) gives objects a version id; moto
# spells the version of an object written while it was off ``"null"``, as S3 does.
_VERSIONED_STATES: Final = ("Enabled", "Suspended")

_sequencer_of_this_event: contextvars.ContextVar[str | None] = contextvars.ContextVar("s3_sequencer", default=None)


class _Sequencer:
    """Hex strings of one length that grow with every event of this process (and across restarts,
    being taken from the clock): compared as strings, a later event's is larger, which is what AWS
    promises for the events of one key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> str:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns())
            return f"{self._last:018X}"


_sequencer = _Sequencer()


def _aws_record(moto_record: dict[str, Any], bucket: Any, key: Any) -> dict[str, Any]:
    """One of moto's records with the object described as AWS describes it."""
    event_name: str = moto_record["eventName"]
    described: dict[str, Any] = {"key": quote_plus(key.name, safe="/")}
    if not event_name.startswith(_REMOVAL_PREFIX):
        described.update(size=key.size, eTag=key.etag.strip('"'))
    if bucket.versioning_status in _VERSIONED_STATES:
        described["versionId"] = key.version_id
    described["sequencer"] = _sequencer_of_this_event.get() or _sequencer.next()
    moto_record["s3"]["object"] = described
    return moto_record


def _with_aws_objects(build: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def get_s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        event = build(event_name, bucket, key, notification_id)
        event["Records"] = [_aws_record(record, bucket, key) for record in event["Records"]]
        return event

    return get_s3_event


def _one_sequencer_per_event(send: Callable[..., None]) -> Callable[..., None]:
    def send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
        token = _sequencer_of_this_event.set(_sequencer.next())
        try:
            send(account_id, event_name, bucket, key)
        finally:
            _sequencer_of_this_event.reset(token)

    return send_event


def patch_event_records(replacements: Replacements) -> None:
    """moto's S3 event records with ``versionId``, ``sequencer`` and AWS's key encoding."""
    replacements.replace(notifications, "_get_s3_event", _with_aws_objects(vars(notifications)["_get_s3_event"]))
    replacements.replace(notifications, "send_event", _one_sequencer_per_event(vars(notifications)["send_event"]))
