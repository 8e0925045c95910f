"""Adapter over :func:`evaluate_run`: the definition passes the run document and gets it back with
``evaluation`` filled."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from functions import aws
from functions.evaluate.champion import evaluate_run
from functions.run_document import RunDocument

logger = Logger()
tracer = Tracer()


class EvaluateEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run: RunDocument


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=EvaluateEvent)
def lambda_handler(event: EvaluateEvent, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(run_id=event.run.run_id)
    evaluation = evaluate_run(
        event.run, sagemaker=aws.client("sagemaker"), runtime=aws.client("sagemaker-runtime"), s3=aws.client("s3")
    )
    logger.info("champion/challenger decided", extra={"decision": evaluation.decision, "reason": evaluation.reason})
    return event.run.model_copy(update={"evaluation": evaluation}).to_state()
