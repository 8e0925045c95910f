"""The state machine's first state: an adapter over :func:`prepare_execution`.

The definition passes ``{"input": <execution input>, "execution": <execution name>}``. A refused
input raises :class:`core.errors.UserInputError`; Step Functions sees its type as the error name and the
message as the cause, and the definition's Catch turns it into a failure email.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from functions import aws
from functions.config import PrepareConfig
from functions.prepare.prepare import prepare_execution
from functions.run_document import Converted, PendingConversion

logger = Logger()
tracer = Tracer()


class PrepareEvent(BaseModel):
    """The task's payload; ``input`` is whatever the execution was started with (validated later)."""

    model_config = ConfigDict(extra="forbid")

    input: Any
    execution: str
    converted: Converted | None = None


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=PrepareEvent)
def lambda_handler(event: PrepareEvent, context: LambdaContext) -> dict[str, Any]:
    config = PrepareConfig.from_environment()
    run = prepare_execution(
        event.input,
        execution_name=event.execution,
        s3=aws.client("s3"),
        storage_options=aws.polars_storage_options(),
        config=config,
        converted=event.converted,
    )
    if isinstance(run, PendingConversion):
        logger.info("conversion by a Processing job", extra={"job": run.processing.job_name})
        return run.model_dump(mode="json", by_alias=True)
    logger.append_keys(run_id=run.run_id)
    logger.info("run planned", extra={"mode": run.plan.mode, "device": run.attempt.device})
    return run.to_state()
