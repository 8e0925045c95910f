"""Lambda's asynchronous invocation, as the service runs it: retries, event age, and the invocation record.

An ``Event`` invocation (and every S3 notification) is queued by Lambda, not run for the caller. On a
function error Lambda runs it again, by default twice more, after about one and then two minutes;
``MaximumRetryAttempts`` (0–2) and ``MaximumEventAgeInSeconds`` (60–21600) of the function's
EventInvokeConfig change that. When the event succeeds, or fails for good, Lambda sends an
*invocation record* to the OnSuccess / OnFailure destination, with the function's execution role.
(AWS: "How Lambda handles errors and retries with asynchronous invocation" and "Capturing records of
Lambda asynchronous invocations" in the Lambda developer guide.)

This module holds those rules and the record's shape; :mod:`local.moto.awslambda` runs the attempts
and delivers the record. The waits between attempts are AWS's unless ``DROPML_LAMBDA_RETRY_DELAYS_S``
(two comma-separated seconds) shortens them, e.g. for tests; the event's age is measured in real time.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from local.lambda_runner import Invocation

RETRY_DELAYS_ENV: Final = "DROPML_LAMBDA_RETRY_DELAYS_S"
AWS_RETRY_DELAYS_S: Final = (60.0, 120.0)
"""Before the second and the third attempt."""
_DEFAULT_RETRIES: Final = 2
_DEFAULT_MAX_AGE_S: Final = 21600


@dataclass(frozen=True)
class AsyncPolicy:
    """What a function's EventInvokeConfig says (AWS's defaults where it has none)."""

    maximum_retry_attempts: int = _DEFAULT_RETRIES
    maximum_event_age_s: int = _DEFAULT_MAX_AGE_S
    on_success: str | None = None
    on_failure: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> AsyncPolicy:
        """``config`` is the PutFunctionEventInvokeConfig request body (moto keeps it as sent)."""
        config = config or {}
        destinations = config.get("DestinationConfig") or {}
        return cls(
            maximum_retry_attempts=int(config.get("MaximumRetryAttempts", _DEFAULT_RETRIES)),
            maximum_event_age_s=int(config.get("MaximumEventAgeInSeconds", _DEFAULT_MAX_AGE_S)),
            on_success=(destinations.get("OnSuccess") or {}).get("Destination") or None,
            on_failure=(destinations.get("OnFailure") or {}).get("Destination") or None,
        )


def retry_delays(environ: Mapping[str, str] = os.environ) -> tuple[float, float]:
    """The waits before the second and third attempts: AWS's, or ``DROPML_LAMBDA_RETRY_DELAYS_S``."""
    text = environ.get(RETRY_DELAYS_ENV, "")
    if not text:
        return AWS_RETRY_DELAYS_S
    try:
        first, second = (float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"{RETRY_DELAYS_ENV} must be two comma-separated seconds, not {text!r}") from None
    return first, second


@dataclass(frozen=True)
class EventOutcome:
    """How an asynchronous event ended: its last attempt, how many ran, and the record's condition."""

    last: Invocation
    attempts: int
    condition: str  # "Success", "RetriesExhausted" or "EventAgeExceeded", as in the record

    @property
    def succeeded(self) -> bool:
        return self.condition == "Success"


def process_event(
    attempt: Callable[[], Invocation],
    policy: AsyncPolicy,
    *,
    delays: tuple[float, float],
    queued_at: float,
    stopped: threading.Event,
) -> EventOutcome | None:
    """Run ``attempt`` until it succeeds or the policy gives up; None when ``stopped`` is set before an
    attempt or while waiting for one (local mode is shutting down: the queue goes with it, as an event
    would not outlive its account)."""
    attempts = 0
    while True:
        if stopped.is_set():
            return None
        invocation = attempt()
        attempts += 1
        if invocation.function_error is None:
            return EventOutcome(invocation, attempts, "Success")
        if attempts > policy.maximum_retry_attempts:
            return EventOutcome(invocation, attempts, "RetriesExhausted")
        delay = delays[min(attempts, len(delays)) - 1]
        if time.time() + delay - queued_at > policy.maximum_event_age_s:
            return EventOutcome(invocation, attempts, "EventAgeExceeded")
        if stopped.wait(delay):
            return None


def invocation_record(outcome: EventOutcome, *, function_arn: str, version: str, event: object) -> dict[str, Any]:
    """The JSON Lambda sends to a destination (``version`` 1.0 of the record)."""
    when = datetime.now(UTC)
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": version}
    if outcome.last.function_error:
        response_context["functionError"] = outcome.last.function_error
    return {
        "version": "1.0",
        "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
        "requestContext": {
            "requestId": outcome.last.request_id,
            "functionArn": f"{function_arn}:{version}",
            "condition": outcome.condition,
            "approximateInvokeCount": outcome.attempts,
        },
        "requestPayload": event,
        "responseContext": response_context,
        "responsePayload": json.loads(outcome.last.payload),
    }
