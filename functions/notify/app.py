"""Adapter: build the report for the execution's final state, publish it, keep a copy with the run.

Notify is also the ingest function's OnFailure destination: an event that is Lambda's invocation
record is emailed as an upload that could not be processed. And it is the target of the rule on the
pipeline's executions that end FAILED, TIMED_OUT or ABORTED: one that ended without its report is
emailed as such (``execution_ended``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, TypeAdapter

from functions import aws
from functions.config import NotifyConfig
from functions.notify.execution_ended import ExecutionStatusChange
from functions.notify.invocation_failure import InvocationRecord
from functions.notify.notify import notify_invocation_failure, notify_run, notify_unreported_end
from functions.notify.report import FinalState

logger = Logger()
tracer = Tracer()


class NotifyEvent(BaseModel):
    """``state`` is the execution's state as far as it got: not a run document when Prepare failed."""

    model_config = ConfigDict(extra="forbid")

    state: dict[str, Any]
    started_at: str | None = None
    outcome: Literal["succeeded", "failed"]


Event = NotifyEvent | InvocationRecord | ExecutionStatusChange
_EVENTS: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(event: dict[str, Any]) -> Event:
    """The state machine's final state, Lambda's record of an ingest that failed for good, or
    EventBridge's news of an execution that ended."""
    return _EVENTS.validate_python(event)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(raw_event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config = NotifyConfig.from_environment()
    event = parse_event(raw_event)
    if isinstance(event, ExecutionStatusChange):
        sent = notify_unreported_end(
            event, sns=aws.client("sns"), stepfunctions=aws.client("stepfunctions"), topic_arn=config.topic_arn
        )
        logger.info("execution ended", extra={"status": event.detail.status, "emailed": sent is not None})
        return {"status": "notified" if sent else "reported already"}
    if isinstance(event, InvocationRecord):
        failure = notify_invocation_failure(event, sns=aws.client("sns"), topic_arn=config.topic_arn)
        logger.info("notified", extra={"status": failure.document["status"], "subject": failure.subject})
        return {"status": failure.document["status"]}
    final = FinalState.from_state(event.state, event.started_at)
    report = notify_run(
        final,
        failed=event.outcome == "failed",
        finished_at=datetime.now(UTC),
        sns=aws.client("sns"),
        s3=aws.client("s3"),
        sagemaker=aws.client("sagemaker"),
        topic_arn=config.topic_arn,
    )
    logger.info("notified", extra={"status": report.document["status"], "subject": report.subject})
    return {"status": report.document["status"]}
