"""Adapter: build the report for the execution's final state, publish it, keep a copy with the run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from functions import aws
from functions.config import NotifyConfig
from functions.notify.notify import notify_run
from functions.notify.report import FinalState

logger = Logger()
tracer = Tracer()


class NotifyEvent(BaseModel):
    """``state`` is the execution's state as far as it got: not a run document when Prepare failed."""

    model_config = ConfigDict(extra="forbid")

    state: dict[str, Any]
    started_at: str | None = None
    outcome: Literal["succeeded", "failed"]


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=NotifyEvent)
def lambda_handler(event: NotifyEvent, context: LambdaContext) -> dict[str, Any]:
    config = NotifyConfig.from_environment()
    final = FinalState.from_state(event.state, event.started_at)
    report = notify_run(
        final,
        failed=event.outcome == "failed",
        finished_at=datetime.now(UTC),
        sns=aws.client("sns"),
        s3=aws.client("s3"),
        topic_arn=config.topic_arn,
    )
    logger.info("notified", extra={"status": report.document["status"], "subject": report.subject})
    return {"status": report.document["status"]}
